// Regenerates hf_variants.json: the Whisper tokenizer.json with other
// pre-tokenizer / added-token / post-processor settings, and HF tokenizers'
// ids for random texts under each. Dev-side only, not run by the tests.
//   npm install tokenizers@0.23.2 && node gen_hf_variants.js ../../../../shared > hf_variants.json
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
const os = require('os');
const shared = process.argv[2] || '../../../../shared';
const base = JSON.parse(fs.readFileSync(shared + '/fixtures-whisper/tokenizer.json', 'utf8'));
let seed = 7;
function rnd() { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; }
const pieces = ["hello", " world", "Hello", "[verse]", "[Verse]", " [verse]", "<mark>", " <mark> ", "MARK", "mark", "x", " ",
  "  ", "\t", "\n", "\r\n", "123", "4567", "12-34", "a1b2", "don't", "'s", "!!", "?", "-", "é", "你好", "🎵", "\u00a0", "_",
  "<|endoftext|>", "<|0.00|>", "ab", "  end  "];
function text() {
  let s = "";
  const n = 1 + Math.floor(rnd() * 10);
  for (let k = 0; k < n; k++) s += pieces[Math.floor(rnd() * pieces.length)];
  return s;
}
const bl = (regex, prefix) => ({ type: "ByteLevel", add_prefix_space: prefix, trim_offsets: true, use_regex: regex });
const split = (pattern, behavior, invert) => ({ type: "Split", pattern, behavior, invert });
const variants = [
  { name: "bytelevel_prefix_space", patch: { pre_tokenizer: bl(true, true) } },
  { name: "bytelevel_no_regex", patch: { pre_tokenizer: bl(false, false) } },
  { name: "bytelevel_no_regex_prefix", patch: { pre_tokenizer: bl(false, true) } },
];
for (const beh of ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"])
  for (const inv of [false, true]) {
    variants.push({ name: `split_string_${beh}_${inv}`, patch: { pre_tokenizer: { type: "Sequence", pretokenizers: [
      split({ String: " " }, beh, inv), bl(false, false)] } } });
    variants.push({ name: `split_regex_${beh}_${inv}`, patch: { pre_tokenizer: { type: "Sequence", pretokenizers: [
      split({ Regex: "\\d+|\\s" }, beh, inv), bl(true, false)] } } });
  }
const mk = (id, content, o) => Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false,
  normalized: false, special: false }, o);
variants.push({ name: "added_flags", add: [
  mk(51866, "[verse]", { single_word: true }),
  mk(51867, "<mark>", { lstrip: true, rstrip: true, special: true }),
  mk(51868, "MARK", { normalized: true }),
  mk(51869, "mark", { rstrip: true }),
  mk(51870, "ab", { lstrip: true, single_word: true, normalized: true }),
] });
variants.push({ name: "roberta_post", patch: { post_processor: { type: "RobertaProcessing", sep: ["<|endoftext|>", 50257],
  cls: ["<|startoftranscript|>", 50258], trim_offsets: true, add_prefix_space: false } } });
(async () => {
  const out = [];
  for (const v of variants) {
    const j = JSON.parse(JSON.stringify(base));
    Object.assign(j, v.patch || {});
    if (v.add) j.added_tokens = j.added_tokens.concat(v.add);
    const path = os.tmpdir() + '/hm_variant.json';
    fs.writeFileSync(path, JSON.stringify(j));
    const tok = Tokenizer.fromFile(path);
    const cases = [];
    for (let i = 0; i < 60; i++) {
      const t = text();
      const plain = await tok.encode(t, null, { addSpecialTokens: false });
      const withsp = await tok.encode(t, null, { addSpecialTokens: true });
      cases.push({ text: t, ids: Array.from(plain.getIds()), ids_special: Array.from(withsp.getIds()) });
    }
    out.push({ name: v.name, patch: v.patch || {}, add: v.add || [], cases });
  }
  process.stdout.write(JSON.stringify({ description: "HF tokenizers 0.23.2 ids under variants of fixtures-whisper/tokenizer.json " +
    "(top-level keys of 'patch' replaced, 'add' appended to added_tokens); ids: add_special_tokens=False, ids_special: True",
    variants: out }));
})().catch(e => { console.error(e); process.exit(1); });
