// Oracle: Hugging Face tokenizers (npm `tokenizers`, the Rust library).
// Usage: node hf_encode.js TOKENIZER_JSON INPUT_JSON
// INPUT_JSON holds an array of strings; prints {"ids": [id arrays],
// "decoded": [strings]}: each string encoded without the post-processor's
// special tokens, and those ids decoded back (special tokens kept).
const fs = require('fs');
const {Tokenizer} = require('tokenizers');

(async () => {
  const tokenizer = Tokenizer.fromFile(process.argv[2]);
  const texts = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const encodings = await tokenizer.encodeBatch(texts, {addSpecialTokens: false});
  const ids = encodings.map((e) => e.getIds());
  const decoded = await tokenizer.decodeBatch(ids, false);
  process.stdout.write(JSON.stringify({ids, decoded}));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
