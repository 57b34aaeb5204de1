// Regenerates hf_cases.json: ids from Hugging Face tokenizers (Rust, npm
// package "tokenizers") for random texts. Dev-side only, not run by the tests.
//   npm install tokenizers@0.23.2 && node gen_hf_cases.js ../../../../shared > hf_cases.json
const { Tokenizer } = require('tokenizers');
const shared = process.argv[2] || '../../../../shared';
let seed = 1;
function rnd() { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; }
const pieces = ["hello", "Hello", " world", "'s", "'S", "'re", "'ll", "'ve", "'d", "'m", "'t", "don't", "I'M", "123", "4567890",
  "3.14", " ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\u00a0", "\u2003", "\u3000", "\u200b", "\u200d", "\u0085",
  "\u2028", "你好", "世界", "我们", "。", "，", "こんにちは", "カタカナ", "안녕하세요", "Привет", "мир", "Ωμέγα", "ς", "العربية",
  "ـ", "हिन्दी", "ไทย", "🎵", "🎶", "❤️", "👨\u200d👩\u200d👧", "🇯🇵", "😀😀", "e\u0301", "n\u0303", "\u0300", "ß", "İ", "ﬁ", "①",
  "²", "Ⅻ", "½", "[verse]", "[Chorus]", "<tag>", "</tag>", "(", ")", "!!!", "???", "...", "--", "—", "«", "»", "$", "%", "@",
  "#", "_", "__init__", "a_b", "x-y", "https://a.b/c?d=e", "<|begin_of_text|>", "<|end_of_text|>", "<|endoftext|>",
  "<|startoftranscript|>", "<|0.00|>", "<|en|>", "<|", "|>", "<|begin", "\u0000", "\u0001", "\u007f", "\ufeff", "\ufffd", "𝕏", "𠀀"];
const ranges = [[0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x9, 0xd], [0x80, 0x2ff], [0x300, 0x36f], [0x370, 0x52f],
  [0x590, 0x6ff], [0x900, 0xdff], [0x1100, 0x11ff], [0x2000, 0x206f], [0x2070, 0x2bff], [0x3000, 0x30ff], [0x4e00, 0x9fff],
  [0xac00, 0xd7a3], [0xe000, 0xe0ff], [0xfe00, 0xffef], [0x10000, 0x1ffff], [0x1f300, 0x1faff], [0x20000, 0x2a6df],
  [0xe0000, 0xe007f]];
function fromPieces() {
  let s = "";
  const n = 1 + Math.floor(rnd() * 12);
  for (let k = 0; k < n; k++) {
    if (rnd() < 0.15) s += String.fromCharCode(32 + Math.floor(rnd() * 95));
    else s += pieces[Math.floor(rnd() * pieces.length)];
  }
  return s;
}
function fromCodePoints() {
  let s = "";
  const n = 1 + Math.floor(rnd() * 40);
  for (let k = 0; k < n; k++) {
    const r = ranges[Math.floor(rnd() * ranges.length)];
    let cp = r[0] + Math.floor(rnd() * (r[1] - r[0] + 1));
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
    s += String.fromCodePoint(cp).repeat(rnd() < 0.2 ? 1 + Math.floor(rnd() * 5) : 1);
  }
  return s;
}
async function cases(path, s0) {
  const tok = Tokenizer.fromFile(path);
  const out = [];
  for (const [gen, s1] of [[fromPieces, s0], [fromCodePoints, s0 + 1]]) {
    seed = s1;
    for (let i = 0; i < 400; i++) {
      const text = gen();
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      out.push({ text, ids: Array.from(enc.getIds()) });
    }
  }
  return out;
}
(async () => {
  const llama3 = await cases(shared + '/tokenizer/tokenizer.json', 101);
  const whisper = await cases(shared + '/fixtures-whisper/tokenizer.json', 103);
  process.stdout.write(JSON.stringify({ description: "encode(text, add_special_tokens=False) ids from Hugging Face " +
    "tokenizers 0.23.2 (the Rust library through its npm Node binding) for random texts made by gen_hf_cases.js", llama3, whisper }));
})().catch(e => { console.error(e); process.exit(1); });
