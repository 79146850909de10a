#!/usr/bin/env bash
# Installs everything tandem's build, tests and demo need on Debian 12
# (bookworm). Idempotent: re-running it installs nothing new and is fast.
# Only Debian's apt repositories and the npm registry are used.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # Build: Bazel 4.2.3 offline + the C++ toolchain.
  bazel-bootstrap bazel-rules-java g++ git ca-certificates
  # libFuzzer builds (scripts/fuzz.sh, --config=fuzz).
  clang libclang-rt-14-dev
  # C++ libraries.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libtorch-dev libopenblas0-openmp libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libpcre2-dev libsentencepiece-dev libicu-dev libcairo2-dev fonts-dejavu-core
  libcpp-httplib-dev libssl-dev curl
  # Headless screenshot test of `tandem generate --relevance_html` (tests/client).
  chromium
  # Tokenizer training, model training and benchmark charts.
  sentencepiece python3 python3-torch python3-numpy python3-matplotlib
  python3-sentencepiece
  # The chat-template oracle (tests/tokenizer/hf_chat_template_oracle.py).
  python3-jinja2
  # The Python client (client/python) and its tests: Debian's grpcio/protobuf in a venv.
  python3-grpcio python3-protobuf python3-pytest python3-setuptools python3-wheel python3-pip
  python3-venv
  # Public-domain corpora for the demo models.
  sword-text-web bible-kjv bible-kjv-text dict-jargon dict-devil
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#APT_PACKAGES[@]} Debian packages present"
fi

# Node.js for the npm oracles (Debian's, unless a newer one is installed).
if ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi

# The independent oracles the conformance tests compare against, pinned by
# tests/oracles/package-lock.json (`npm install`, not `npm ci`: node-llama-cpp lists
# optional per-platform packages the lock cannot hold). Re-installed when the lock changes.
stamp=tests/oracles/node_modules/.tandem-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s tests/oracles/package-lock.json "$stamp"; then
  echo "setup: installing npm oracles"
  (cd tests/oracles && npm install --omit=optional --no-audit --no-fund)
  cp tests/oracles/package-lock.json "$stamp"
else
  echo "setup: npm oracles present"
fi

# A disk cache outside the checkout lets a fresh clone reuse compiled objects.
if [ ! -f .bazelrc.user ]; then
  mkdir -p "$HOME/.cache/tandem/bazel-disk"
  echo "build --disk_cache=$HOME/.cache/tandem/bazel-disk" > .bazelrc.user
fi
echo "setup: done"
