#!/usr/bin/python3
"""Builds tandem's public-domain English training corpus from Debian packages.

Sources (all public domain):
  * World English Bible   - sword-text-web    (SWORD zText module, OSIS markup)
  * King James Version    - bible-kjv         (the `bible` program + bible-kjv-text)
  * The Jargon File 4.4.7 - dict-jargon       (dictd database)
  * The Devil's Dictionary - dict-devil       (dictd database)
  * Jane Austen's six novels - r-cran-janeaustenr (R lazy-load data, read without R)

Output (in OUT_DIR):
  train.jsonl / val.jsonl / bench.jsonl  documents {"key","src","text"}
  spm_input.txt     training text for spm_train, one paragraph/sentence group per line
  bench_prompts.jsonl  ~200 held-out prompts of 20-60 words
  stats.json

The split is deterministic: each document has a key (e.g. "bible:Gen.1", shared by
both translations of a chapter so parallel text never straddles splits), and
sha256(key) decides train (95%) / validation (3%) / benchmark (2%).
"""
import argparse
import glob
import gzip
import hashlib
import html
import json
import os
import random
import re
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdata  # noqa: E402

OSIS_66 = ("Gen Exod Lev Num Deut Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh "
           "Esth Job Ps Prov Eccl Song Isa Jer Lam Ezek Dan Hos Joel Amos Obad Jonah Mic "
           "Nah Hab Zeph Hag Zech Mal Matt Mark Luke John Acts Rom 1Cor 2Cor Gal Eph Phil "
           "Col 1Thess 2Thess 1Tim 2Tim Titus Phlm Heb Jas 1Pet 2Pet 1John 2John 3John "
           "Jude Rev").split()

WS = re.compile(r"\s+")


def norm_ws(s):
    return WS.sub(" ", s).strip()


# ---------------------------------------------------------------- WEB (SWORD)
def read_sword_ztext(moddir):
    """Yields the raw entry strings of a zText module in index order (OT then NT)."""
    for testament in ("ot", "nt"):
        bzs = open(os.path.join(moddir, testament + ".bzs"), "rb").read()
        bzv = open(os.path.join(moddir, testament + ".bzv"), "rb").read()
        bzz = open(os.path.join(moddir, testament + ".bzz"), "rb").read()
        blocks = [struct.unpack("<III", bzs[i:i + 12]) for i in range(0, len(bzs), 12)]
        cache = {}
        for i in range(0, len(bzv), 10):
            b, o, s = struct.unpack("<IIH", bzv[i:i + 10])
            if s == 0:
                continue
            if b not in cache:
                off, sz, _ = blocks[b]
                cache = {b: zlib.decompress(bzz[off:off + sz])}
            yield cache[b][o:o + s].decode("utf-8", "replace")


CHAPTER_TAG = re.compile(r"(<chapter\b[^>]*>)")
NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)
TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.S)
TAG = re.compile(r"<[^>]+>")


def web_docs():
    mods = glob.glob("/usr/share/sword/modules/texts/ztext/engweb*") + \
        glob.glob("/usr/share/sword/modules/texts/ztext/engWEB*")
    if not mods:
        sys.exit("sword-text-web not installed")
    chapters = {}
    order = []
    cur = None
    for entry in read_sword_ztext(sorted(mods)[0]):
        for part in CHAPTER_TAG.split(entry):
            if part.startswith("<chapter"):
                m = re.search(r'osisID="([^"]+)"', part)
                if "sID=" in part and m:
                    cur = m.group(1)
                    if cur not in chapters:
                        chapters[cur] = []
                        order.append(cur)
                elif "eID=" in part:
                    cur = None
                continue
            if cur is None:
                continue
            # a footnote sits between words, sometimes with no space around it
            t = TITLE.sub(" ", NOTE.sub(" ", part))
            t = html.unescape(TAG.sub("", t))
            t = re.sub(r" ([,.;:!?\u2019\u201d)])", r"\1", norm_ws(t))
            if t:
                chapters[cur].append(t)
    docs = []
    for osis in order:
        text = " ".join(chapters[osis])
        if text:
            docs.append({"key": "bible:" + osis, "src": "web", "text": text})
    return docs


# ---------------------------------------------------------------- KJV (bible)
def kjv_docs():
    out = subprocess.run(["bible", "-l", "100000", "Gen1:1-Rev22:21"],
                         check=True, capture_output=True, text=True).stdout
    books = []
    chapters = []  # (book_index, chapter, [verses])
    for line in out.split("\n"):
        m = re.match(r"^(\S.*?) (\d+)$", line)
        if m and not line.startswith(" "):
            book = m.group(1)
            if book not in books:
                books.append(book)
            chapters.append((books.index(book), int(m.group(2)), []))
            continue
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m and chapters:
            chapters[-1][2].append(norm_ws(m.group(1)))
    if len(books) != 66:
        sys.exit("unexpected KJV book count %d" % len(books))
    docs = []
    for bi, ch, verses in chapters:
        docs.append({"key": "bible:%s.%d" % (OSIS_66[bi], ch), "src": "kjv",
                     "text": " ".join(verses)})
    return docs


# ---------------------------------------------------------------- dictd
def b64num(s):
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for c in s:
        n = n * 64 + alpha.index(c)
    return n


def dictd_entries(name):
    data = gzip.open("/usr/share/dictd/%s.dict.dz" % name).read()
    seen = set()
    entries = []
    for line in open("/usr/share/dictd/%s.index" % name, encoding="utf-8"):
        head, off, ln = line.rstrip("\n").split("\t")[:3]
        if head.startswith("00database") or head.startswith("00-database"):
            continue
        off, ln = b64num(off), b64num(ln)
        if off in seen:
            continue
        seen.add(off)
        entries.append((off, head, data[off:off + ln].decode("utf-8", "replace")))
    entries.sort()
    return entries


def paragraphs(lines):
    paras, cur = [], []
    for ln in lines:
        if ln.strip():
            cur.append(ln.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return [norm_ws(p) for p in paras if norm_ws(p)]


def unbrace(s):
    return re.sub(r"\{([^{}]*)\}", r"\1", s)


def jargon_docs():
    docs = []
    for _, head, raw in dictd_entries("jargon"):
        lines = raw.split("\n")
        if len(lines) < 2:
            continue
        title = lines[0].strip()
        pron = lines[1].strip()
        body = paragraphs(lines[2:])
        if not body:
            continue
        first = title if pron in ("", "//") else "%s %s" % (title, pron)
        text = unbrace("\n".join([first] + body))
        docs.append({"key": "jargon:" + title, "src": "jargon", "text": text})
    return docs


def devil_docs():
    docs = []
    for _, head, raw in dictd_entries("devil"):
        body = paragraphs(raw.split("\n"))
        if not body:
            continue
        text = unbrace("\n".join(body))
        title = body[0].split(",")[0][:40]
        docs.append({"key": "devil:" + title, "src": "devil", "text": text})
    return docs


# ---------------------------------------------------------------- Austen
def austen_docs(cache_dir):
    base = glob.glob(os.path.join(cache_dir, "x/usr/lib/R/site-library/janeaustenr/data/Rdata.rdx"))
    if not base:
        os.makedirs(cache_dir, exist_ok=True)
        debs = glob.glob(os.path.join(cache_dir, "r-cran-janeaustenr_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", "r-cran-janeaustenr"], cwd=cache_dir, check=True)
            debs = glob.glob(os.path.join(cache_dir, "r-cran-janeaustenr_*.deb"))
        subprocess.run(["dpkg-deb", "-x", sorted(debs)[-1], os.path.join(cache_dir, "x")], check=True)
        base = glob.glob(os.path.join(cache_dir, "x/usr/lib/R/site-library/janeaustenr/data/Rdata.rdx"))
    books = rdata.load_lazy(base[0][:-4])
    heading = re.compile(r"^(CHAPTER|Chapter|VOLUME|Volume)\b|^[A-Z0-9 ,.()]+$")
    docs = []
    for name in sorted(books):
        paras = [p for p in paragraphs([l or "" for l in books[name]]) if not heading.match(p)]
        paras = [re.sub(r"_([^_]+)_", r"\1", p) for p in paras]  # _italics_
        chunk, words, idx = [], 0, 0
        for p in paras:
            chunk.append(p)
            words += len(p.split())
            if words >= 800:
                docs.append({"key": "austen:%s:%d" % (name, idx), "src": "austen",
                             "text": "\n".join(chunk)})
                chunk, words, idx = [], 0, idx + 1
        if chunk:
            docs.append({"key": "austen:%s:%d" % (name, idx), "src": "austen",
                         "text": "\n".join(chunk)})
    return docs


# ---------------------------------------------------------------- split etc.
def split_of(key):
    h = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 1000
    if h < 20:
        return "bench"
    if h < 50:
        return "val"
    return "train"


def spm_lines(text, maxlen=2000):
    for para in text.split("\n"):
        while len(para) > maxlen:
            cut = para.rfind(". ", 0, maxlen)
            cut = maxlen if cut < maxlen // 4 else cut + 1
            yield para[:cut].strip()
            para = para[cut:]
        if para.strip():
            yield para.strip()


def make_prompts(bench_docs, n=200, seed=1234):
    rng = random.Random(seed)
    cands = []
    for d in sorted(bench_docs, key=lambda d: (d["key"], d["src"])):
        words = d["text"].replace("\n", " \n ").split(" ")
        words = [w for w in words if w]
        # sentence starts: word 0 and any word after one ending in . ! ? or a paragraph break
        starts = [0] + [i + 1 for i, w in enumerate(words[:-1]) if w == "\n" or w[-1:] in ".!?"]
        starts = [s for s in starts if s < len(words) and words[s] != "\n"]
        per_doc = max(1, min(6, len(words) // 250))
        rng.shuffle(starts)
        taken = 0
        for s in starts:
            if taken >= per_doc:
                break
            k = rng.randint(20, 60)
            seg = [w for w in words[s:s + k + 80]]
            prompt_words, ref_words = [], []
            for w in seg:
                if len(prompt_words) < k:
                    if w != "\n":
                        prompt_words.append(w)
                else:
                    ref_words.append(w)
            if len(prompt_words) < 20:
                continue
            prompt = " ".join(prompt_words)
            ref = " ".join(w for w in ref_words if w != "\n")
            cands.append({"src": d["src"], "key": d["key"], "prompt": prompt,
                          "reference": " ".join(ref.split()[:64])})
            taken += 1
    rng.shuffle(cands)
    # balance sources: round-robin over sources so the dictionaries are not drowned out
    by_src = {}
    for c in cands:
        by_src.setdefault(c["src"], []).append(c)
    out = []
    srcs = sorted(by_src)
    while len(out) < n and any(by_src.values()):
        for s in srcs:
            if by_src[s] and len(out) < n:
                out.append(by_src[s].pop())
    out.sort(key=lambda c: (c["src"], c["key"], c["prompt"]))
    for i, c in enumerate(out):
        c["id"] = i
    return [{"id": c["id"], "source": c["src"], "doc": c["key"], "prompt": c["prompt"],
             "reference": c["reference"]} for c in out]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--cache", default=None, help="where to keep the downloaded janeaustenr .deb")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    cache = args.cache or os.path.join(args.out_dir, "debcache")
    docs = web_docs() + kjv_docs() + jargon_docs() + devil_docs() + austen_docs(cache)
    splits = {"train": [], "val": [], "bench": []}
    for d in docs:
        splits[split_of(d["key"])].append(d)
    stats = {"sources": {}, "splits": {}}
    for d in docs:
        s = stats["sources"].setdefault(d["src"], {"docs": 0, "chars": 0, "words": 0})
        s["docs"] += 1
        s["chars"] += len(d["text"])
        s["words"] += len(d["text"].split())
    for name, ds in splits.items():
        with open(os.path.join(args.out_dir, name + ".jsonl"), "w", encoding="utf-8") as f:
            for d in ds:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        stats["splits"][name] = {"docs": len(ds), "chars": sum(len(d["text"]) for d in ds),
                                 "words": sum(len(d["text"].split()) for d in ds)}
    with open(os.path.join(args.out_dir, "spm_input.txt"), "w", encoding="utf-8") as f:
        for d in splits["train"]:
            for line in spm_lines(d["text"]):
                f.write(line + "\n")
    prompts = make_prompts(splits["bench"])
    with open(os.path.join(args.out_dir, "bench_prompts.jsonl"), "w", encoding="utf-8") as f:
        for p in prompts:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    stats["bench_prompts"] = len(prompts)
    stats["bench_prompt_sources"] = {}
    for p in prompts:
        stats["bench_prompt_sources"][p["source"]] = stats["bench_prompt_sources"].get(p["source"], 0) + 1
    with open(os.path.join(args.out_dir, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
