#!/usr/bin/env python3
"""Independent check that an exported folder is HF-exact: loads it with
transformers.LlamaForCausalLM.from_pretrained and compares its logits (and the
early-exit logits, hidden_states[L'] -> model.norm -> lm_head) with train.py's model
loaded from the same files, in float32. Also compares greedy generation (HF's
KV-cached generate vs. full recomputation here) and prints a few sample continuations.

  python3 tools/train/verify_hf.py --data CORPUS_DIR MODEL_DIR [MODEL_DIR...] [--json OUT.json]

Needs transformers (not available in Debian; run it where transformers is installed).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402


def load_hf(d, device):
    from transformers import LlamaForCausalLM
    try:
        m = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        m = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32, attn_implementation="eager")
    return m.to(device).eval()


@torch.no_grad()
def greedy_ours(model, ids, n):
    x = torch.tensor([ids], device=next(model.parameters()).device)
    for _ in range(n):
        nxt = model(x)[0][0, -1].argmax()
        x = torch.cat([x, nxt.view(1, 1)], 1)
    return x[0, len(ids):].tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--data", required=True)
    ap.add_argument("--json", default=None)
    ap.add_argument("--prompts", default=None, help="bench_prompts.jsonl for sample generations")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    import transformers
    val = np.fromfile(os.path.join(args.data, "val.bin"), dtype=np.uint16).astype(np.int64)
    x = torch.from_numpy(val[: 4 * 256].reshape(4, 256)).to(device)
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.dirs[0], "tokenizer.model"))
    prompts = []
    if args.prompts:
        prompts = [json.loads(l)["prompt"] for l in open(args.prompts)][::50][:4]
    report = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    for d in args.dirs:
        ours, cfg = T.load_exported(d, device)
        hf = load_hf(d, device)
        with torch.no_grad():
            L_ee = cfg.get("tandem_early_exit_layer")
            a, a_ee = ours(x, exit_layer=L_ee)
            out = hf(input_ids=x, output_hidden_states=True)
            b = out.logits.float()
            r = {"logits_max_abs_diff": (a - b).abs().max().item(),
                 "logits_max_abs": b.abs().max().item(),
                 "argmax_agreement": (a.argmax(-1) == b.argmax(-1)).float().mean().item(),
                 "hf_param_count": sum(p.numel() for p in hf.parameters())}
            if L_ee:
                h = out.hidden_states[L_ee]
                b_ee = hf.lm_head(hf.model.norm(h)).float()
                r["early_exit_layer"] = L_ee
                r["early_exit_logits_max_abs_diff"] = (a_ee - b_ee).abs().max().item()
            samples = []
            gen_match = 0
            for p in prompts:
                ids = [1] + sp.encode(p)
                g = hf.generate(torch.tensor([ids], device=device), max_new_tokens=32, do_sample=False,
                                eos_token_id=None, pad_token_id=0)
                hf_new = g[0, len(ids):].tolist()
                our_new = greedy_ours(ours, ids, len(hf_new))
                gen_match += int(hf_new == our_new)
                samples.append({"prompt": p, "continuation": sp.decode(hf_new)})
            if prompts:
                r["greedy_generate_identical"] = "%d/%d" % (gen_match, len(prompts))
                r["samples"] = samples
        report["models"][d] = r
        print(d, json.dumps(r, indent=1), flush=True)
        del hf
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
