#!/usr/bin/env python3
"""Writes load-test prompts of exactly N tokens of the shipped tokenizer.

Each line of assets/bench_prompts.jsonl (prompt + reference text) is joined
with the lines after it until the text has more than N - 1 pieces, cut to N - 1
pieces with spm_encode / spm_decode (the BOS token makes N), so every prompt
starts differently (no prefix-cache hits between prompts) and all have the
same length. Usage:

  python3 bench/load/long_prompts.py --tokens 256 --out /tmp/prompts_256.jsonl
"""
import argparse
import json
import subprocess


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--source", default="assets/bench_prompts.jsonl")
    parser.add_argument("--tokenizer", default="assets/target/tokenizer.model")
    args = parser.parse_args()
    if args.tokens < 2:
        raise SystemExit("--tokens must be >= 2")
    rows = [json.loads(line) for line in open(args.source) if line.strip()]
    pieces = args.tokens - 1
    texts = []
    for i in range(len(rows)):
        text, k = "", 0
        # ~4 characters per piece; join more lines than needed, cut below.
        while len(text) < 6 * pieces and k < len(rows):
            row = rows[(i + k) % len(rows)]
            text += " " + row["prompt"] + " " + row.get("reference", "")
            k += 1
        texts.append(" ".join(text.split()))
    encode = subprocess.run(
        ["spm_encode", f"--model={args.tokenizer}", "--output_format=id"],
        input="\n".join(texts) + "\n", capture_output=True, text=True, check=True)
    ids = [line.split() for line in encode.stdout.splitlines()]
    short = [i for i, x in enumerate(ids) if len(x) < pieces]
    if short:
        raise SystemExit(f"prompts {short[:5]} have fewer than {pieces} pieces")
    decode = subprocess.run(
        ["spm_decode", f"--model={args.tokenizer}", "--input_format=id"],
        input="\n".join(" ".join(x[:pieces]) for x in ids) + "\n",
        capture_output=True, text=True, check=True)
    with open(args.out, "w") as out:
        for i, prompt in enumerate(decode.stdout.splitlines()):
            out.write(json.dumps({"id": i, "prompt": prompt}) + "\n")


if __name__ == "__main__":
    main()
