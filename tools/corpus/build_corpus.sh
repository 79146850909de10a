#!/usr/bin/env bash
# Builds the public-domain English corpus used to train tandem's demo models.
#   tools/corpus/build_corpus.sh [OUT_DIR]        (default: /tmp/tandem_corpus)
# Needs the Debian packages: sword-text-web bible-kjv dict-jargon dict-devil python3
# (plus network access to Debian's archive once, for `apt-get download r-cran-janeaustenr`;
#  the .deb is only unpacked, R is not needed).
# Deterministic: the same packages give byte-identical output.
set -euo pipefail
OUT="${1:-/tmp/tandem_corpus}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for f in /usr/share/sword/mods.d/engWEB2015eb.conf /usr/bin/bible \
         /usr/share/dictd/jargon.dict.dz /usr/share/dictd/devil.dict.dz; do
  [[ -e "$f" ]] || { echo "missing $f: apt-get install sword-text-web bible-kjv dict-jargon dict-devil" >&2; exit 1; }
done
mkdir -p "$OUT"
"${PYTHON:-/usr/bin/python3}" "$HERE/build_corpus.py" "$OUT" --cache "$OUT/debcache"
echo "corpus written to $OUT"
