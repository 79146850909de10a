#!/usr/bin/python3
"""Encodes CORPUS_DIR/{train,val,bench}.jsonl with CORPUS_DIR/tokenizer.model into flat
uint16 token streams ({split}.bin): each document is <s> + tokens + </s>."""
import json
import os
import sys

import numpy as np
import sentencepiece as spm


def main():
    d = sys.argv[1]
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model"))
    assert sp.vocab_size() == 8000 and sp.bos_id() == 1 and sp.eos_id() == 2 and sp.unk_id() == 0
    info = {"vocab_size": sp.vocab_size(), "splits": {}}
    for split in ("train", "val", "bench"):
        docs = [json.loads(l) for l in open(os.path.join(d, split + ".jsonl"), encoding="utf-8")]
        ids = sp.encode([x["text"] for x in docs])
        flat = []
        for t in ids:
            flat.append(sp.bos_id())
            flat.extend(t)
            flat.append(sp.eos_id())
        arr = np.asarray(flat, dtype=np.uint16)
        arr.tofile(os.path.join(d, split + ".bin"))
        chars = sum(len(x["text"]) for x in docs)
        info["splits"][split] = {"docs": len(docs), "tokens": int(arr.size), "chars": chars,
                                 "chars_per_token": round(chars / max(1, arr.size), 3)}
    with open(os.path.join(d, "tokens.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
