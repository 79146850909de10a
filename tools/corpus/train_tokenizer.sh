#!/usr/bin/env bash
# Trains tandem's SentencePiece BPE tokenizer (Llama-2 style) on the corpus train split
# and encodes the splits into uint16 token streams for tools/train/train.py.
#   tools/corpus/train_tokenizer.sh [CORPUS_DIR]   (default: /tmp/tandem_corpus)
# Writes CORPUS_DIR/tokenizer.model, tokenizer.vocab, train.bin, val.bin, bench.bin, tokens.json
# Needs: sentencepiece (spm_train), python3-sentencepiece, python3-numpy.
set -euo pipefail
DIR="${1:-/tmp/tandem_corpus}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ -f "$DIR/spm_input.txt" ]] || { echo "run build_corpus.sh first" >&2; exit 1; }
# Llama-2 conventions: unk=0 <unk>, bos=1 <s>, eos=2 </s>, no pad; BPE with byte fallback,
# digits split, identity normalization (text is kept verbatim), dummy prefix on.
# Relative paths and a fixed thread count: spm_train records its options inside
# tokenizer.model, so this keeps the file byte-identical wherever it is built.
(cd "$DIR" && spm_train \
  --input=spm_input.txt \
  --model_prefix=tokenizer \
  --model_type=bpe \
  --vocab_size=8000 \
  --character_coverage=1.0 \
  --byte_fallback=true \
  --split_digits=true \
  --allow_whitespace_only_pieces=true \
  --normalization_rule_name=identity \
  --remove_extra_whitespaces=false \
  --add_dummy_prefix=true \
  --max_sentence_length=16384 \
  --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --unk_piece='<unk>' --bos_piece='<s>' --eos_piece='</s>' \
  --num_threads=2 \
  --random_seed=1234 \
  --minloglevel=1)
"${PYTHON:-/usr/bin/python3}" "$HERE/encode_corpus.py" "$DIR"
