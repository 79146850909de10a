#!/usr/bin/env python3
"""Trains tandem's demo model pair: a Llama-architecture TARGET (with an auxiliary
early-exit loss for self-speculative drafting) and a much smaller DRAFT distilled
from it, then evaluates them and exports both in Hugging Face LlamaForCausalLM
layout (config.json + bf16 safetensors written by hand, tokenizer.model copied).

Runs on CPU with Debian's python3-torch 1.13 and on CUDA with PyTorch 2.x.
Needs only torch and numpy (no transformers / safetensors packages).

  # CPU smoke test (a few steps of tiny models):
  /usr/bin/python3 tools/train/train.py --data /tmp/tandem_corpus --out /tmp/tandem_tiny \
      --target-preset tiny-target --draft-preset tiny-draft --target-steps 20 \
      --draft-steps 20 --batch 4 --seq 128 --eval-every 10
  # the shipped models were made by tools/train/run_gpu.sh (two target candidates with
  # --skip-draft --target-steps N --dropout D --compile, then --init-target BEST/target --draft-time 140)

The corpus directory holds train.bin / val.bin (uint16 token streams) and
tokenizer.model, as written by tools/corpus/train_tokenizer.sh.
"""
import argparse
import contextlib
import copy
import json
import math
import os
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    # ~23.0M parameters (tied embeddings) -> ~46 MB in bf16
    "target": dict(hidden_size=512, intermediate_size=1024, num_hidden_layers=8,
                   num_attention_heads=8, num_key_value_heads=4, tie_word_embeddings=True),
    # ~2.29M parameters: <= 1/10 of the target, embeddings and head included
    "draft": dict(hidden_size=192, intermediate_size=480, num_hidden_layers=2,
                  num_attention_heads=3, num_key_value_heads=1, tie_word_embeddings=True),
    "tiny-target": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False),
    "tiny-draft": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True),
}


def make_config(preset, vocab_size, max_pos):
    c = dict(PRESETS[preset])
    c.update(vocab_size=vocab_size, rms_norm_eps=1e-5, rope_theta=10000.0,
             max_position_embeddings=max_pos)
    c["head_dim"] = c["hidden_size"] // c["num_attention_heads"]
    return c


# ------------------------------------------------------------------ model
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dt)


def rope_cos_sin(seq_len, head_dim, theta, device):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64)
                                .to(device=device, dtype=torch.float32) / head_dim))
    t = torch.arange(seq_len, device=device, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)  # HF convention: halves, not interleaved
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, h, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.nkv != self.nh:  # GQA: query head i uses kv head i // (nh / nkv), like HF repeat_kv
            k = k.repeat_interleave(self.nh // self.nkv, dim=1)
            v = v.repeat_interleave(self.nh // self.nkv, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # torch 1.13
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(mask, float("-inf")).softmax(-1)
            y = att @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.nh * self.hd))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, dropout):
        a = self.self_attn(self.input_layernorm(x), cos, sin)
        x = x + (F.dropout(a, dropout, self.training) if dropout else a)
        m = self.mlp(self.post_attention_layernorm(x))
        return x + (F.dropout(m, dropout, self.training) if dropout else m)


class LlamaBody(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Llama(nn.Module):
    """Parameter names are exactly HF LlamaForCausalLM's."""

    def __init__(self, c, dropout=0.0):
        super().__init__()
        self.c = c
        self.dropout = dropout
        self.model = LlamaBody(c)
        if not c["tie_word_embeddings"]:
            self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        std = 0.02
        for n, p in self.named_parameters():
            if p.dim() == 2:
                s = std / math.sqrt(2 * c["num_hidden_layers"]) if n.endswith(("o_proj.weight", "down_proj.weight")) else std
                nn.init.normal_(p, 0.0, s)
        self._rope = None

    def head(self, h):
        w = self.model.embed_tokens.weight if self.c["tie_word_embeddings"] else self.lm_head.weight
        return F.linear(self.model.norm(h), w)

    def rope(self, T, device):
        if self._rope is None or self._rope[0].shape[0] < T or self._rope[0].device != device:
            self._rope = rope_cos_sin(max(T, 64), self.c["head_dim"], self.c["rope_theta"], device)
        return self._rope[0][:T], self._rope[1][:T]

    def forward(self, idx, exit_layer=None, final=True):
        """Returns (final logits or None, early-exit logits after `exit_layer` layers or None)."""
        cos, sin = self.rope(idx.shape[1], idx.device)
        x = self.model.embed_tokens(idx)
        ee = None
        n = len(self.model.layers) if final else exit_layer
        for i in range(n):
            x = self.model.layers[i](x, cos, sin, self.dropout)
            if exit_layer is not None and i + 1 == exit_layer:
                ee = self.head(x)
        return (self.head(x) if final else None), ee


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def early_exit_layer(c):
    return max(1, int(c["num_hidden_layers"] / 4 + 0.5))


# ------------------------------------------------------------------ safetensors (by hand)
def _tensor_bytes(t):
    t = t.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes(), "BF16"
    if t.dtype == torch.float32:
        return t.numpy().astype("<f4").tobytes(), "F32"
    raise ValueError(t.dtype)


def write_safetensors(path, tensors):
    """tensors: list of (name, tensor). Format: u64 LE header length, JSON header, raw data."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        b, dt = _tensor_bytes(t)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, m in header.items():
        if name == "__metadata__":
            continue
        a, b = m["data_offsets"]
        raw = data[a:b]
        if m["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif m["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        else:
            raise ValueError(m["dtype"])
        out[name] = torch.from_numpy(arr.copy()).reshape(m["shape"])
    return out


def hf_config(c, extra=None):
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": c["vocab_size"],
        "hidden_size": c["hidden_size"],
        "intermediate_size": c["intermediate_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "num_key_value_heads": c["num_key_value_heads"],
        "head_dim": c["head_dim"],
        "hidden_act": "silu",
        "rms_norm_eps": c["rms_norm_eps"],
        "rope_theta": c["rope_theta"],
        "rope_scaling": None,
        "max_position_embeddings": c["max_position_embeddings"],
        "tie_word_embeddings": c["tie_word_embeddings"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "pretraining_tp": 1,
        "use_cache": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "bfloat16",
    }
    if extra:
        cfg.update(extra)
    return cfg


def export_model(model, out_dir, tokenizer, extra_config=None, max_shard_bytes=None):
    """Writes config.json, bf16 safetensors (sharded HF-style if max_shard_bytes) and tokenizer.model."""
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.endswith(".safetensors") or f.endswith(".index.json"):
            os.remove(os.path.join(out_dir, f))
    sd = [(n, p.detach().to(torch.bfloat16)) for n, p in model.named_parameters()]
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(model.c, extra_config), f, indent=2)
        f.write("\n")
    shutil.copyfile(tokenizer, os.path.join(out_dir, "tokenizer.model"))
    total = sum(t.numel() * 2 for _, t in sd)
    if not max_shard_bytes or total <= max_shard_bytes:
        write_safetensors(os.path.join(out_dir, "model.safetensors"), sd)
        return {"files": ["model.safetensors"], "bytes": total}
    shards, cur, cur_b = [], [], 0
    for n, t in sd:
        b = t.numel() * 2
        if cur and cur_b + b > max_shard_bytes:
            shards.append(cur)
            cur, cur_b = [], 0
        cur.append((n, t))
        cur_b += b
    shards.append(cur)
    weight_map, files = {}, []
    for i, sh in enumerate(shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        write_safetensors(os.path.join(out_dir, fn), sh)
        files.append(fn)
        for n, _ in sh:
            weight_map[n] = fn
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        f.write("\n")
    return {"files": files, "bytes": total}


def load_exported(model_dir, device="cpu"):
    """Loads an exported folder into a (float32) Llama."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    c = {k: cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                             "num_attention_heads", "num_key_value_heads", "rms_norm_eps",
                             "rope_theta", "max_position_embeddings", "tie_word_embeddings")}
    c["head_dim"] = cfg.get("head_dim", c["hidden_size"] // c["num_attention_heads"])
    model = Llama(c)
    sd = {}
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    for fn in files:
        sd.update(read_safetensors(os.path.join(model_dir, fn)))
    missing = set(n for n, _ in model.named_parameters()) ^ set(sd)
    if missing:
        raise ValueError("parameter name mismatch: %s" % sorted(missing))
    model.load_state_dict(sd, strict=True)
    return model.to(device).eval(), cfg


# ------------------------------------------------------------------ data / training
class Data:
    def __init__(self, path, device, seed):
        self.arr = torch.from_numpy(np.fromfile(path, dtype=np.uint16).astype(np.int64)).to(device)
        self.g = torch.Generator(device="cpu")
        self.g.manual_seed(seed)
        self.device = device

    def batch(self, B, T):
        ix = torch.randint(0, self.arr.numel() - T - 1, (B,), generator=self.g).to(self.device)
        pos = ix[:, None] + torch.arange(T + 1, device=self.device)[None, :]
        w = self.arr[pos]
        return w[:, :-1], w[:, 1:]

    def windows(self, T, max_windows=None):
        n = (self.arr.numel() - 1) // T
        if max_windows:
            n = min(n, max_windows)
        x = self.arr[: n * T].view(n, T)
        y = self.arr[1: n * T + 1].view(n, T)
        return x, y


def make_optimizer(model, lr, wd):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
    kw = dict(lr=lr, betas=(0.9, 0.95), eps=1e-8)
    if next(model.parameters()).is_cuda:
        try:
            return torch.optim.AdamW(groups, fused=True, **kw)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, **kw)


def lr_at(progress, step, base, warmup, min_ratio=0.1):
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, max(0.0, progress))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def autocast(device):
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def log(msg, fh=None):
    print(msg, flush=True)
    if fh:
        fh.write(msg + "\n")
        fh.flush()


@torch.no_grad()
def evaluate_ce(model, xs, ys, bs, device, exit_layer=None):
    """Mean CE (nats/token) of the final head (and of the early exit if exit_layer)."""
    was = model.training
    model.eval()
    tot, tot_ee, n = 0.0, 0.0, 0
    for i in range(0, xs.shape[0], bs):
        x, y = xs[i:i + bs], ys[i:i + bs]
        with autocast(device):
            lo, ee = model(x, exit_layer=exit_layer)
        tot += F.cross_entropy(lo.float().reshape(-1, lo.shape[-1]), y.reshape(-1), reduction="sum").item()
        if ee is not None:
            tot_ee += F.cross_entropy(ee.float().reshape(-1, ee.shape[-1]), y.reshape(-1), reduction="sum").item()
        n += y.numel()
    model.train(was)
    return tot / n, (tot_ee / n if exit_layer else None)


def train_loop(name, model, data, val, args, fh, teacher=None, exit_layer=None, steps=None,
               time_budget=None, lr=1e-3, ee_weight=0.0):
    device = next(model.parameters()).device
    opt = make_optimizer(model, lr, args.weight_decay)
    curve = []
    best = (float("inf"), None, -1)
    B, T = args.batch, args.seq
    t0 = time.time()
    step = 0
    vx, vy = val
    last_log = t0
    tokens = 0
    ema = None
    fwd = model
    if getattr(args, "compile", False) and hasattr(torch, "compile"):
        fwd = torch.compile(model)
    while True:
        elapsed = time.time() - t0
        progress = (step / steps) if steps else (elapsed / time_budget)
        if progress >= 1.0:
            break
        cur_lr = lr_at(progress, step, lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        x, y = data.batch(B, T)
        with autocast(device):
            if teacher is None:
                lo, ee = fwd(x, exit_layer=exit_layer if ee_weight > 0 else None)
                ce = F.cross_entropy(lo.float().view(-1, lo.shape[-1]), y.reshape(-1))
                loss = ce
                if ee is not None:
                    ce_ee = F.cross_entropy(ee.float().view(-1, ee.shape[-1]), y.reshape(-1))
                    loss = ce + ee_weight * ce_ee
                aux = ce_ee.item() if ee is not None and ((step + 1) % 50 == 0 or step == 0) else None
            else:
                with torch.no_grad():
                    tl, _ = teacher(x)
                    tlogp = F.log_softmax(tl.float(), -1).view(-1, tl.shape[-1])
                lo, _ = fwd(x)
                logq = F.log_softmax(lo.float(), -1).view(-1, lo.shape[-1])
                kl = (tlogp.exp() * (tlogp - logq)).sum(-1).mean()
                ce = F.nll_loss(logq, y.reshape(-1))
                loss = kl + args.distill_ce * ce
                aux = kl.item() if ((step + 1) % 50 == 0 or step == 0) else None
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += B * T
        if step % 50 == 0 or step == 1:
            lv = ce.item()
            ema = lv if ema is None else 0.9 * ema + 0.1 * lv
            rec = {"step": step, "tokens": tokens, "time": round(time.time() - t0, 2), "lr": cur_lr,
                   "train_ce": lv}
            if aux is not None:
                rec["train_ee_ce" if teacher is None else "train_kl"] = aux
            curve.append(rec)
        do_eval = (step % args.eval_every == 0)
        now = time.time()
        if do_eval or now - last_log > 30:
            last_log = now
        if do_eval:
            vl, vee = evaluate_ce(model, vx, vy, args.eval_batch, device,
                                  exit_layer=exit_layer if teacher is None else None)
            rec = {"step": step, "tokens": tokens, "time": round(now - t0, 2), "val_ce": vl}
            if vee is not None:
                rec["val_ee_ce"] = vee
            curve.append(rec)
            if vl < best[0]:
                best = (vl, {k: v.detach().clone() for k, v in model.state_dict().items()}, step)
            log("[%s] step %d  %.0fs  lr %.2e  train_ce %.4f  val_ce %.4f%s  %.0f tok/s" % (
                name, step, now - t0, cur_lr, ce.item(), vl,
                ("  val_ee_ce %.4f" % vee) if vee is not None else "", tokens / (now - t0)), fh)
    # final eval + keep the best checkpoint
    vl, vee = evaluate_ce(model, vx, vy, args.eval_batch, device,
                          exit_layer=exit_layer if teacher is None else None)
    rec = {"step": step, "tokens": tokens, "time": round(time.time() - t0, 2), "val_ce": vl}
    if vee is not None:
        rec["val_ee_ce"] = vee
    curve.append(rec)
    if vl < best[0]:
        best = (vl, None, step)
    elif best[1] is not None:
        model.load_state_dict(best[1])
    summary = {"steps": step, "tokens": tokens, "seconds": round(time.time() - t0, 1),
               "best_step": best[2], "best_val_ce": best[0], "epochs": tokens / data.arr.numel(),
               "tokens_per_s": tokens / (time.time() - t0)}
    log("[%s] done: %s" % (name, json.dumps(summary)), fh)
    return curve, summary


@torch.no_grad()
def acceptance(p_logits_fn, q_logits_fn, xs, bs, device, temps=(0.8,)):
    """Greedy match rate and alpha_T = E[sum_x min(p_T(x), q_T(x))] of q (drafter) vs p (verifier)."""
    n, greedy = 0, 0.0
    alpha = {t: 0.0 for t in temps}
    alpha[1.0] = 0.0
    for i in range(0, xs.shape[0], bs):
        x = xs[i:i + bs]
        with autocast(device):
            p = p_logits_fn(x).float()
            q = q_logits_fn(x).float()
        greedy += (p.argmax(-1) == q.argmax(-1)).float().sum().item()
        for t in alpha:
            alpha[t] += torch.minimum(F.softmax(p / t, -1), F.softmax(q / t, -1)).sum(-1).sum().item()
        n += x.numel()
    out = {"greedy": greedy / n}
    for t in sorted(alpha):
        out["alpha_T%.1f" % t] = alpha[t] / n
    return out


def expected_speedup(alpha, c, kmax=12):
    """Leviathan et al.: E[tokens per target call] / cost, maximised over draft length k."""
    best = (1.0, 0)
    for k in range(1, kmax + 1):
        if alpha >= 1.0:
            s = (k + 1) / (k * c + 1)
        else:
            s = (1 - alpha ** (k + 1)) / ((1 - alpha) * (k * c + 1))
        if s > best[0]:
            best = (s, k)
    return {"speedup": best[0], "k": best[1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="corpus dir with train.bin, val.bin, tokenizer.model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--target-preset", default="target", choices=sorted(PRESETS))
    ap.add_argument("--draft-preset", default="draft", choices=sorted(PRESETS))
    ap.add_argument("--target-steps", type=int, default=0)
    ap.add_argument("--target-time", type=float, default=300.0, help="seconds (used when --target-steps=0)")
    ap.add_argument("--draft-steps", type=int, default=0)
    ap.add_argument("--draft-time", type=float, default=150.0)
    ap.add_argument("--init-target", default=None, help="skip stage 1: load this exported target folder")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--max-pos", type=int, default=1024)
    ap.add_argument("--target-lr", type=float, default=1.5e-3)
    ap.add_argument("--draft-lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1, help="residual dropout for the target")
    ap.add_argument("--ee-weight", type=float, default=0.25, help="weight of the early-exit CE loss")
    ap.add_argument("--distill-ce", type=float, default=0.1, help="weight of CE added to the KL in stage 2")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-batch", type=int, default=16)
    ap.add_argument("--eval-windows", type=int, default=0, help="cap on val windows (0: all)")
    ap.add_argument("--max-shard-mb", type=float, default=12.0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-draft", action="store_true", help="stage 1 only: export + evaluate the target")
    ap.add_argument("--compile", action="store_true", help="torch.compile the training forward (torch 2.x)")
    args = ap.parse_args()

    device = torch.device("cuda" if (args.device == "auto" and torch.cuda.is_available()) else
                          ("cpu" if args.device == "auto" else args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    fh = open(os.path.join(args.out, "train_log.txt"), "a")
    log("torch %s on %s (%s)" % (torch.__version__, device,
                                 torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"), fh)
    tok = os.path.join(args.data, "tokenizer.model")
    vocab = 8000
    meta = os.path.join(args.data, "tokens.json")
    if os.path.exists(meta):
        vocab = json.load(open(meta))["vocab_size"]
    train = Data(os.path.join(args.data, "train.bin"), device, args.seed)
    valdata = Data(os.path.join(args.data, "val.bin"), device, args.seed + 1)
    val = valdata.windows(args.seq, args.eval_windows or None)
    log("train tokens %d, val tokens %d (%d windows of %d)" % (
        train.arr.numel(), valdata.arr.numel(), val[0].shape[0], args.seq), fh)
    metrics = {"args": vars(args), "torch": torch.__version__, "device": str(device)}
    t_all = time.time()

    # ---- stage 1: target
    if args.init_target:
        target, _ = load_exported(args.init_target, device)
        tc = target.c
        L_ee = early_exit_layer(tc)
    else:
        tc = make_config(args.target_preset, vocab, args.max_pos)
        target = Llama(tc, dropout=args.dropout).to(device)
        L_ee = early_exit_layer(tc)
        log("target %s: %d params, early-exit layer %d" % (json.dumps(tc), count_params(target), L_ee), fh)
        curve, summ = train_loop("target", target, train, val, args, fh, exit_layer=L_ee,
                                 steps=args.target_steps or None, time_budget=args.target_time,
                                 lr=args.target_lr, ee_weight=args.ee_weight)
        metrics["target_curve"], metrics["target_train"] = curve, summ
    target.eval()
    target.dropout = 0.0
    for p in target.parameters():
        p.requires_grad_(False)

    # ---- stage 2: draft (distillation)
    draft = None
    if not args.skip_draft:
        dc = make_config(args.draft_preset, vocab, args.max_pos)
        torch.manual_seed(args.seed + 7)
        draft = Llama(dc).to(device)
        log("draft %s: %d params" % (json.dumps(dc), count_params(draft)), fh)
        train.g.manual_seed(args.seed + 2)
        curve, summ = train_loop("draft", draft, train, val, args, fh, teacher=target,
                                 steps=args.draft_steps or None, time_budget=args.draft_time,
                                 lr=args.draft_lr)
        metrics["draft_curve"], metrics["draft_train"] = curve, summ
        draft.eval()

    # ---- export (bf16) and evaluate the exported weights exactly as shipped
    ee_extra = {"tandem_early_exit_layer": L_ee}
    tinfo = export_model(target, os.path.join(args.out, "target"), tok, ee_extra,
                         max_shard_bytes=int(args.max_shard_mb * 1e6))
    target_x, _ = load_exported(os.path.join(args.out, "target"), device)
    # exported (bf16-rounded) weights vs the in-memory model: same code, so only rounding differs
    with torch.no_grad():
        xs = val[0][:2, :128]
        a = target(xs)[0].float()
        b = target_x(xs)[0].float()
        metrics["export_roundtrip_max_abs_diff_target"] = (a - b).abs().max().item()
    vx, vy = val
    t_ce, t_ee_ce = evaluate_ce(target_x, vx, vy, args.eval_batch, device, exit_layer=L_ee)
    n_t = count_params(target_x)
    L = tc["num_hidden_layers"]
    per_layer = sum(p.numel() for p in target_x.model.layers[0].parameters())
    head = target_x.model.embed_tokens.weight.numel()
    # per-token cost of the early exit: L' layers + norm + LM head, over the full model
    c_ee = (L_ee * per_layer + head) / (L * per_layer + head)
    acc_ee = acceptance(lambda x: target_x(x)[0], lambda x: target_x(x, exit_layer=L_ee)[1], vx,
                        args.eval_batch, device)
    ev = {
        "val_tokens": int(vy.numel()),
        "target_params": n_t, "target_bytes_bf16": tinfo["bytes"], "target_files": tinfo["files"],
        "target_val_ce": t_ce, "target_val_ppl": math.exp(t_ce),
        "early_exit_layer": L_ee, "early_exit_val_ce": t_ee_ce, "early_exit_val_ppl": math.exp(t_ee_ce),
        "cost_ratio_early_exit": c_ee, "acceptance_early_exit": acc_ee,
        "expected_speedup_early_exit_T0.8": expected_speedup(acc_ee["alpha_T0.8"], c_ee),
        "expected_speedup_early_exit_greedy": expected_speedup(acc_ee["greedy"], c_ee),
    }
    if draft is not None:
        dinfo = export_model(draft, os.path.join(args.out, "draft"), tok)
        draft_x, _ = load_exported(os.path.join(args.out, "draft"), device)
        d_ce, _ = evaluate_ce(draft_x, vx, vy, args.eval_batch, device)
        n_d = count_params(draft_x)
        c_draft = n_d / n_t
        acc_draft = acceptance(lambda x: target_x(x)[0], lambda x: draft_x(x)[0], vx, args.eval_batch, device)
        ev.update({
            "draft_params": n_d, "draft_bytes_bf16": dinfo["bytes"],
            "draft_val_ce": d_ce, "draft_val_ppl": math.exp(d_ce),
            "cost_ratio_draft": c_draft, "acceptance_draft": acc_draft,
            "expected_speedup_draft_T0.8": expected_speedup(acc_draft["alpha_T0.8"], c_draft),
            "expected_speedup_draft_greedy": expected_speedup(acc_draft["greedy"], c_draft),
        })
    metrics["eval"] = ev
    metrics["total_seconds"] = round(time.time() - t_all, 1)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    log("EVAL " + json.dumps(metrics["eval"], indent=1), fh)
    fh.close()


if __name__ == "__main__":
    main()
