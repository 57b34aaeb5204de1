// Regenerates hf_demo.json: HF tokenizers' ids with the demo tokenizer.json.
// Dev-side only. Write the demo first (hm_tokenizer_write_demo(path, 1024, 1000, 1001)), then:
//   npm install tokenizers@0.23.2 && node gen_hf_demo.js demo_tokenizer.json > hf_demo.json
const { Tokenizer } = require('tokenizers');
const tok = Tokenizer.fromFile(process.argv[2]);
(async () => {
  const texts = ['[verse]\nthe morning light, hello world! 你好 <|end_of_text|>', 'Pop, Female Vocal', '',
    'la la la\n\n[chorus]\noh oh 123 🎵', '<tag>rock, male vocal</tag>',
    'we were young and we were running through the fields of gold', '<|reserved_special_token_5|>x'];
  const cases = [];
  for (const t of texts) cases.push({ text: t, ids: Array.from((await tok.encode(t, null, { addSpecialTokens: true })).getIds()) });
  process.stdout.write(JSON.stringify({ description: 'HF tokenizers 0.23.2 encode(text, add_special_tokens=True) with the ' +
    'demo tokenizer.json written by hm_tokenizer_write_demo(path, 1024, 1000, 1001)', vocab_size: tok.getVocabSize(true), cases }));
})();
