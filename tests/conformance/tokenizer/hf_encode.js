// Oracle: Hugging Face tokenizers (npm `tokenizers`, the Rust library).
// Usage: node hf_encode.js TOKENIZER_JSON INPUT_JSON
// INPUT_JSON holds an array of strings; prints a JSON array of id arrays,
// encoded without the post-processor's special tokens.
const fs = require('fs');
const {Tokenizer} = require('tokenizers');

(async () => {
  const tokenizer = Tokenizer.fromFile(process.argv[2]);
  const texts = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const encodings = await tokenizer.encodeBatch(texts, {addSpecialTokens: false});
  process.stdout.write(JSON.stringify(encodings.map((e) => e.getIds())));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
