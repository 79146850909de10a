#!/bin/bash
# Installs //client/python into a fresh venv that sees Debian's python3-grpcio, python3-protobuf
# and python3-pytest (offline: --no-index --no-build-isolation), then runs this directory's
# pytest suite against the Bazel-built servers. Uses /usr/bin/python3 (Debian's), whatever
# python3 is first on PATH.
set -euo pipefail

runfiles="${TEST_SRCDIR:?run under bazel test}/${TEST_WORKSPACE:-tandem}"
tmp="${TEST_TMPDIR:?}"

# pip builds in the source tree (build/, *.egg-info); runfiles are read-only symlinks, so build
# from a copy laid out as in the repository (setup.py finds the protos at ../../proto).
mkdir -p "$tmp/src/client"
cp -rL "$runfiles/client/python" "$tmp/src/client/python"
cp -rL "$runfiles/proto" "$tmp/src/proto"

/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$tmp/venv/bin/pip" install --quiet --no-index \
  --no-build-isolation --no-cache-dir "$tmp/src/client/python"

export TANDEM_RUNFILES="$runfiles" PYTHONDONTWRITEBYTECODE=1
# From $tmp, so `import tandem` finds the installed package and not a source directory.
cd "$tmp"
exec "$tmp/venv/bin/python" -m pytest -p no:cacheprovider -q -rs "$runfiles/tests/python"
