"""Minimal reader for R lazy-load databases (.rdx/.rdb), enough to pull character
vectors out of r-cran-janeaustenr without installing R. Handles the XDR ("X")
serialization format, version 2 and 3."""
import gzip
import struct
import zlib

NILVALUE, SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = \
    254, 1, 2, 9, 10, 13, 14, 16, 19
REFSXP, GLOBALENV, EMPTYENV, BASEENV, MISSINGARG, BASENAMESPACE = 255, 253, 242, 241, 251, 247


class _Reader:
    def __init__(self, data):
        assert data[:2] == b"X\n", data[:2]
        self.b = data
        self.p = 2
        self.refs = []
        version = self.int()
        self.int()
        self.int()
        if version == 3:
            n = self.int()
            self.p += n  # native encoding string

    def int(self):
        v = struct.unpack(">i", self.b[self.p:self.p + 4])[0]
        self.p += 4
        return v

    def item(self):
        flags = self.int()
        t = flags & 0xFF
        has_attr = flags & (1 << 9)
        has_tag = flags & (1 << 10)
        if t == NILVALUE or t in (GLOBALENV, EMPTYENV, BASEENV, MISSINGARG, BASENAMESPACE):
            return None
        if t == REFSXP:
            idx = flags >> 8
            if idx == 0:
                idx = self.int()
            return self.refs[idx - 1]
        if t == SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if t == CHARSXP:
            n = self.int()
            if n == -1:
                return None
            s = self.b[self.p:self.p + n].decode("utf-8", "replace")
            self.p += n
            return s
        if t == LISTSXP:
            out = {}
            attr = self.item() if has_attr else None
            tag = self.item() if has_tag else None
            val = self.item()
            rest = self.item()
            out[tag] = val
            if isinstance(rest, dict):
                out.update(rest)
            return out
        if t in (LGLSXP, INTSXP):
            n = self.int()
            v = list(struct.unpack(">%di" % n, self.b[self.p:self.p + 4 * n]))
            self.p += 4 * n
        elif t == REALSXP:
            n = self.int()
            v = list(struct.unpack(">%dd" % n, self.b[self.p:self.p + 8 * n]))
            self.p += 8 * n
        elif t in (STRSXP, VECSXP):
            n = self.int()
            v = [self.item() for _ in range(n)]
        else:
            raise ValueError("unsupported SEXP type %d" % t)
        attr = self.item() if has_attr else None
        return RObj(v, attr) if attr else v


class RObj(list):
    def __init__(self, v, attr):
        super().__init__(v)
        self.attr = attr


def unserialize(data):
    return _Reader(data).item()


def load_lazy(base):
    """Returns {name: object} for an R lazy-load database at base.rdx/base.rdb."""
    with open(base + ".rdx", "rb") as f:
        raw = f.read()
    idx = unserialize(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else zlib.decompress(raw[4:]))
    # idx is a named list (RObj) with attr names: variables, references, compressed
    names = idx.attr[None] if None in idx.attr else list(idx.attr.values())[0]
    entries = dict(zip(names, idx))
    var = entries["variables"]
    var_names = var.attr[None] if None in var.attr else list(var.attr.values())[0]
    with open(base + ".rdb", "rb") as f:
        rdb = f.read()
    out = {}
    for name, (off, ln) in zip(var_names, var):
        blob = rdb[off:off + ln]
        out[name] = unserialize(zlib.decompress(blob[4:]))
    return out
