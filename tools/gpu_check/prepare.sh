#!/usr/bin/env bash
# Fills tools/gpu_check/carry/ on the CPU machine with what the device machine
# lacks for building the model runtime: Debian's Abseil (headers, static
# archives and shared libraries), packed as carry/absl.tar.gz (~2 MB; run.sh
# unpacks it into its build folder) with carry/ABSL_MANIFEST beside it. The
# folder is git-ignored; pass it to the device run as carry
# ["tools/gpu_check/carry"].
#
# Usage: bash tools/gpu_check/prepare.sh
set -euo pipefail
cd "$(dirname "$0")"
CARRY=carry
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ABSL_PKG=libabsl20220623
LIBDIR=/usr/lib/x86_64-linux-gnu

if [[ ! -f /usr/include/absl/base/config.h ]]; then
  echo "prepare: /usr/include/absl is missing; install libabsl-dev (scripts/setup.sh)" >&2
  exit 1
fi
rm -rf "$CARRY"
mkdir -p "$CARRY" "$STAGE/absl/include" "$STAGE/absl/static" "$STAGE/absl/shared"
cp -r /usr/include/absl "$STAGE/absl/include/"

# Static archives (preferred on the device: no glibc symbol versions baked in).
cp "$LIBDIR"/libabsl_*.a "$STAGE/absl/static/"

# Shared libraries under their SONAME (regular files, no symlinks).
for lib in $(dpkg -L "$ABSL_PKG" | grep -E '/libabsl_[a-z0-9_]+\.so\.[0-9.]+$'); do
  soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
  [[ -n "$soname" && ! -f "$STAGE/absl/shared/$soname" ]] || continue
  cp -L "$lib" "$STAGE/absl/shared/$soname"
done

# What the shared libraries need from the device's C and C++ runtimes.
max_version() {
  for f in "$STAGE"/absl/shared/*.so.*; do objdump -T "$f"; done |
    grep -oE "\\b$1_[0-9]+(\\.[0-9]+)*\\b" | sort -uV | tail -1
}
{
  echo "package $(dpkg-query -W -f='${Package} ${Version}' "$ABSL_PKG")"
  echo "abi _GLIBCXX_USE_CXX11_ABI=1"
  echo "shared_needs $(max_version GLIBC) $(max_version GLIBCXX)"
  echo "built_on $(. /etc/os-release && echo "$PRETTY_NAME"), $(ldd --version | head -1)"
  echo "static_archives $(find "$STAGE/absl/static" -name '*.a' | wc -l)"
  echo "shared_libraries $(find "$STAGE/absl/shared" -name '*.so.*' | wc -l)"
} > "$STAGE/absl/MANIFEST"
tar czf "$CARRY/absl.tar.gz" -C "$STAGE" absl
cp "$STAGE/absl/MANIFEST" "$CARRY/ABSL_MANIFEST"

echo "prepare: filled $PWD/$CARRY"
cat "$CARRY/ABSL_MANIFEST"
du -sh "$CARRY"
