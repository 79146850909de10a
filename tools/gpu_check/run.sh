#!/usr/bin/env bash
# Builds the model runtime (every model/*.cc) and tools/gpu_check/gpu_check.cc
# with plain g++ against the LibTorch inside the Python torch package (no
# Bazel, no gRPC), then runs the checks and benchmarks. See README.md here.
#
# On the device machine, from the repository root, with carry
# ["tools/gpu_check/carry"] (filled by tools/gpu_check/prepare.sh):
#   bash tools/gpu_check/run.sh
# Locally on the CPU machine (Debian's libtorch 1.13, small configs):
#   DEVICE=cpu bash tools/gpu_check/run.sh
#
# Environment (all optional):
#   DEVICE=cuda|cpu        where the model runs (default cuda)
#   TORCH_MODE=auto|python|system  python: the torch package found by $PYTHON;
#                          system: Debian's libtorch-dev (/usr/include, /usr/lib);
#                          auto (default): python if `import torch` works
#   PYTHON=python3  CXX=g++  STD=c++17|c++20 (default: what the headers demand)
#   ABSL_LINK=auto|static|shared   auto: static archives, then shared libs
#   JOBS=N                 parallel compiles (default: nproc; 1 with DEVICE=cpu)
#   NICE="nice -n 19"      prefix for compiles (default with DEVICE=cpu)
#   GPU_CHECK_ARGS="..."   flags for the binary (see gpu_check --help)
#   RUN_TIMEOUT=seconds    limit for the binary (default 300)
#   HBM_GBPS=N             nominal memory bandwidth for the roofline (default:
#                          from the GPU's name, e.g. H200 4800, H100 SXM 3350)
#   OUT=dir                the whole log goes to $OUT/gpu_check.txt, the
#                          binary's own summary to $OUT/gpu_check_summary.txt
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$PWD
HERE=$ROOT/tools/gpu_check
CARRY=${CARRY_DIR:-$HERE/carry}
BUILD=${BUILD_DIR:-$HERE/build}
DEVICE=${DEVICE:-cuda}
TORCH_MODE=${TORCH_MODE:-auto}
ABSL_LINK=${ABSL_LINK:-auto}
PYTHON=${PYTHON:-python3}
CXX=${CXX:-g++}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
if [[ $DEVICE == cpu ]]; then
  JOBS=${JOBS:-1}
  NICE=${NICE-nice -n 19}
  GPU_CHECK_ARGS=${GPU_CHECK_ARGS-"--configs=tiny,tiny-mha --dtypes=f32,bf16 --decode_tokens=16 --verify_reps=3 --copy_mib=64"}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
else
  JOBS=${JOBS:-$(nproc 2>/dev/null || echo 8)}
  NICE=${NICE-}
  GPU_CHECK_ARGS=${GPU_CHECK_ARGS-}
fi
HBM_GBPS=${HBM_GBPS:-}

section() { printf '\n======== %s ========\n' "$*"; }
fatal() { echo "FATAL: $*"; exit 1; }

main() {
  local t_start=$SECONDS
  section "environment"
  date -u
  (. /etc/os-release 2>/dev/null && echo "os: $PRETTY_NAME"); uname -srm
  echo "glibc: $(getconf GNU_LIBC_VERSION 2>/dev/null)"
  command -v "$CXX" >/dev/null || { command -v c++ >/dev/null && CXX=c++; }
  command -v "$CXX" >/dev/null || fatal "no C++ compiler ($CXX, c++)"
  echo "compiler: $CXX: $("$CXX" --version | head -1)"
  echo "cpus: $(nproc 2>/dev/null), jobs: $JOBS, device: $DEVICE"
  if [[ $DEVICE == cuda ]]; then
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm,clocks.max.memory,power.limit \
        --format=csv 2>&1 | head -5
      local gpu
      gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
      if [[ -z $HBM_GBPS ]]; then
        case $gpu in  # Nominal peak memory bandwidth, GB/s.
          *H200*) HBM_GBPS=4800 ;;
          *H100*NVL*) HBM_GBPS=3900 ;;
          *H100*PCIe*) HBM_GBPS=2000 ;;
          *H100*) HBM_GBPS=3350 ;;
          *A100*80GB*) HBM_GBPS=2039 ;;
          *A100*) HBM_GBPS=1555 ;;
        esac
        [[ -n $HBM_GBPS ]] && echo "nominal HBM bandwidth for '$gpu': $HBM_GBPS GB/s"
      fi
    else
      echo "nvidia-smi: not found"
    fi
    local nvcc
    nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
    [[ -n $nvcc ]] && echo "nvcc: $nvcc: $("$nvcc" --version | grep -i release)"
  fi

  section "libtorch"
  local torch_dir torch_ver torch_abi torch_cuda torch_cuda_ok
  local -a torch_inc
  local torch_lib
  if [[ $TORCH_MODE == auto ]]; then
    if "$PYTHON" -c 'import torch' 2>/dev/null; then TORCH_MODE=python; else TORCH_MODE=system; fi
  fi
  if [[ $TORCH_MODE == python ]]; then
    local info
    info=$("$PYTHON" - <<'EOF'
import os, torch
print(os.path.dirname(torch.__file__))
print(torch.__version__)
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
print(torch.version.cuda)
print(int(torch.cuda.is_available()))
EOF
) || fatal "$PYTHON cannot import torch (set PYTHON=, or TORCH_MODE=system)"
    { read -r torch_dir; read -r torch_ver; read -r torch_abi; read -r torch_cuda; read -r torch_cuda_ok; } <<<"$info"
    torch_inc=("$torch_dir/include" "$torch_dir/include/torch/csrc/api/include")
    torch_lib=$torch_dir/lib
    echo "torch $torch_ver at $torch_dir (CUDA $torch_cuda, cuda.is_available=$torch_cuda_ok)"
  elif [[ $TORCH_MODE == system ]]; then
    torch_dir=/usr
    torch_inc=(/usr/include/torch/csrc/api/include)
    torch_lib=/usr/lib/x86_64-linux-gnu
    torch_ver=$(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || echo unknown)
    torch_abi=1
    echo "system libtorch-dev $torch_ver (/usr/include, $torch_lib)"
  else
    fatal "TORCH_MODE must be auto, python or system"
  fi
  local aten_h="" d
  for d in "${torch_inc[@]}" /usr/include; do
    [[ -f $d/ATen/ATen.h ]] && { aten_h=$d/ATen/ATen.h; break; }
  done
  [[ -n $aten_h ]] || fatal "ATen/ATen.h not found under ${torch_inc[*]}"
  local std=${STD:-}
  if [[ -z $std ]]; then
    std=c++17
    if grep -qs 'C++20 or later' "$aten_h" "$(dirname "$aten_h")/../torch/all.h" \
        "${torch_inc[-1]}/torch/all.h"; then
      std=c++20
    fi
  fi
  echo "headers: $aten_h; -std=$std; _GLIBCXX_USE_CXX11_ABI=$torch_abi"
  local -a torch_libs=(-ltorch -ltorch_cpu -lc10)
  if [[ $DEVICE == cuda ]]; then
    [[ -e $torch_lib/libtorch_cuda.so ]] || fatal "$torch_lib/libtorch_cuda.so missing: a CPU-only torch?"
    torch_libs+=(-ltorch_cuda -lc10_cuda)
  fi
  # libtorch_cuda's own dependencies (cuBLAS, cudart, ... from the nvidia-*
  # wheels or the system CUDA), for the linker's dependency checks.
  local -a rpath_link=()
  for d in "$torch_dir"/../nvidia/*/lib /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [[ -d $d ]] && rpath_link+=("-Wl,-rpath-link,$(cd "$d" && pwd)")
  done

  section "abseil (carried from Debian)"
  [[ -f $CARRY/absl.tar.gz ]] ||
    fatal "$CARRY/absl.tar.gz is missing: run 'bash tools/gpu_check/prepare.sh' on the CPU machine and pass carry [\"tools/gpu_check/carry\"]"
  local absl_dir=$BUILD/absl
  if ! cmp -s "$CARRY/ABSL_MANIFEST" "$absl_dir/MANIFEST"; then
    rm -rf "$absl_dir"
    mkdir -p "$BUILD"
    tar xzf "$CARRY/absl.tar.gz" -C "$BUILD" || fatal "cannot unpack $CARRY/absl.tar.gz"
  fi
  cat "$absl_dir/MANIFEST"
  if [[ $torch_abi != 1 ]]; then
    echo "WARNING: torch uses _GLIBCXX_USE_CXX11_ABI=$torch_abi but Debian's Abseil was built with 1:"
    echo "         Abseil symbols taking std::string (StrCat, Status) will not link."
  fi
  local need_glibc have_glibc
  need_glibc=$(awk '/^shared_needs/ {sub("GLIBC_", "", $2); print $2}' "$absl_dir/MANIFEST")
  have_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
  if [[ -n $have_glibc && -n $need_glibc ]]; then
    if [[ $(printf '%s\n%s\n' "$need_glibc" "$have_glibc" | sort -V | head -1) == "$need_glibc" ]]; then
      echo "glibc $have_glibc >= $need_glibc: the shared Abseil libraries can load here"
    else
      echo "glibc $have_glibc < $need_glibc: the shared Abseil libraries cannot load here; static archives only"
    fi
  fi

  section "build"
  mkdir -p "$BUILD/obj" "$BUILD/log"
  local -a cxxflags=(-O2 "-std=$std" -DNDEBUG "-D_GLIBCXX_USE_CXX11_ABI=$torch_abi" -pthread
    -include cstdint -Wno-deprecated-declarations -I"$ROOT" -isystem "$absl_dir/include")
  for d in "${torch_inc[@]}"; do cxxflags+=(-isystem "$d"); done
  # Object files are reused only when built with the same flags.
  local stamp
  stamp="$CXX ${cxxflags[*]} $(cksum <"$absl_dir/MANIFEST")"
  if [[ ! -f $BUILD/flags || $(cat "$BUILD/flags") != "$stamp" ]]; then
    rm -f "$BUILD"/obj/*.o
    echo "$stamp" >"$BUILD/flags"
  fi
  local -a srcs=()
  local src
  # The runtime: every .cc under model/ (model/cpu/ included) except the
  # checkpoint readers (formats/), test doubles (testing/) and tests.
  for src in $(find model -name '*.cc' -not -path 'model/formats/*' -not -path 'model/testing/*' \
                 -not -name '*_test.cc' | sort) tools/gpu_check/gpu_check.cc; do
    [[ -f $src ]] || continue
    if grep -qE '#include [<"](grpc|grpcpp)/' "$src"; then
      echo "skipping $src (needs gRPC)"
      continue
    fi
    srcs+=("$src")
  done
  echo "compiling ${#srcs[@]} files: ${srcs[*]}"
  echo "flags: ${cxxflags[*]}"
  export CXX NICE BUILD ROOT
  export CXXFLAGS_STR
  CXXFLAGS_STR=$(printf '%q ' "${cxxflags[@]}")
  local t_build=$SECONDS
  printf '%s\n' "${srcs[@]}" | xargs -P "$JOBS" -I{} bash -c '
    src=$1
    obj=$BUILD/obj/$(echo "$src" | tr / _).o
    log=$BUILD/log/$(echo "$src" | tr / _).log
    if [[ -f $obj && $obj -nt $src && -z $(find model tools/gpu_check -path "*/carry" -prune -o -path "*/build" -prune -o \
          -name "*.h" -newer "$obj" -print | head -1) ]]; then
      echo "  up to date: $src"; exit 0
    fi
    t0=$(date +%s%N)
    eval "flags=($CXXFLAGS_STR)"
    if $NICE "$CXX" "${flags[@]}" -c "$src" -o "$obj.tmp" >"$log" 2>&1; then
      mv "$obj.tmp" "$obj"
      ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      printf "  compiled %-40s %3d.%d s\n" "$src" $((ms / 1000)) $((ms % 1000 / 100))
    else
      rm -f "$obj.tmp"
      echo "  FAILED   $src: first errors:"
      grep -m 25 -E "error|required from" "$log" | sed "s/^/    /"
      exit 255
    fi
  ' _ {}
  local compile_rc=$?
  if [[ $compile_rc -ne 0 ]]; then
    echo "compile failed (rc $compile_rc); full logs: $BUILD/log/"
    for src in "${srcs[@]}"; do
      local log=$BUILD/log/$(echo "$src" | tr / _).log
      if [[ -s $log ]] && grep -q error "$log"; then
        echo "---- $log (last 40 lines)"; tail -40 "$log"
      fi
    done
    fatal "compile failed"
  fi
  local -a objs=()
  for src in "${srcs[@]}"; do objs+=("$BUILD/obj/$(echo "$src" | tr / _).o"); done

  local bin=$BUILD/gpu_check
  local -a common=(-pthread -L"$torch_lib" -Wl,--no-as-needed "${torch_libs[@]}" -Wl,--as-needed
    -Wl,-rpath,"$torch_lib" "${rpath_link[@]}" -Wl,--allow-shlib-undefined -Wl,--disable-new-dtags -ldl)
  local -a modes
  case $ABSL_LINK in
    auto) modes=(static shared) ;;
    static | shared) modes=("$ABSL_LINK") ;;
    *) fatal "ABSL_LINK must be auto, static or shared" ;;
  esac
  local linked="" mode
  for mode in "${modes[@]}"; do
    local -a absl=()
    if [[ $mode == static ]]; then
      absl=(-Wl,--start-group "$absl_dir"/static/libabsl_*.a -Wl,--end-group)
    else
      local sodir=$absl_dir/shared
      absl=("$sodir"/libabsl_*.so.* -Wl,-rpath,"$sodir" -Wl,-rpath-link,"$sodir")
    fi
    echo "linking with $mode Abseil"
    if $NICE "$CXX" -o "$bin" "${objs[@]}" "${absl[@]}" "${common[@]}" >"$BUILD/log/link_$mode.log" 2>&1; then
      linked=$mode
      grep -v '^$' "$BUILD/log/link_$mode.log" | head -5
      break
    fi
    echo "link with $mode Abseil FAILED; first errors:"
    grep -m 20 -E "error|undefined|not found|cannot" "$BUILD/log/link_$mode.log" | sed 's/^/    /'
    if grep -q "GLIBC_\|GLIBCXX_" "$BUILD/log/link_$mode.log"; then
      echo "  diagnosis: the carried Abseil needs newer C/C++ runtimes than this machine's ($(getconf GNU_LIBC_VERSION))"
    fi
    if grep -q "__cxx11" "$BUILD/log/link_$mode.log" && [[ $torch_abi != 1 ]]; then
      echo "  diagnosis: C++ ABI mismatch (torch _GLIBCXX_USE_CXX11_ABI=$torch_abi, Debian Abseil 1)"
    fi
  done
  [[ -n $linked ]] || fatal "could not link gpu_check (logs: $BUILD/log/link_*.log)"
  echo "built $bin in $((SECONDS - t_build)) s ($linked Abseil)"
  echo "libraries it loads:"
  ldd "$bin" 2>&1 | grep -E "not found|absl|torch|c10|stdc\+\+|libc\.so|cudart|cublas" | sed 's/^/  /' | head -20
  if ldd "$bin" 2>&1 | grep -q "not found"; then
    echo "WARNING: unresolved libraries above; the run will likely fail"
  fi

  section "run: gpu_check --device=$DEVICE${HBM_GBPS:+ --hbm_gbps=$HBM_GBPS} $GPU_CHECK_ARGS"
  local -a args=("--device=$DEVICE")
  [[ -n ${OUT:-} ]] && args+=("--out=$OUT/gpu_check_summary.txt")
  [[ -n $HBM_GBPS ]] && args+=("--hbm_gbps=$HBM_GBPS")
  # shellcheck disable=SC2206
  args+=($GPU_CHECK_ARGS)
  local t_run=$SECONDS rc
  timeout "$RUN_TIMEOUT" "$bin" "${args[@]}"
  rc=$?
  if [[ $rc -eq 124 ]]; then
    echo "gpu_check timed out after $RUN_TIMEOUT s"
  elif [[ $rc -eq 127 || $rc -ge 128 ]]; then
    echo "gpu_check did not run or crashed (rc $rc)"
    ldd "$bin" 2>&1 | grep -E "not found|version" | sed 's/^/  /'
  fi
  section "done: gpu_check rc=$rc, run $((SECONDS - t_run)) s, total $((SECONDS - t_start)) s"
  return "$rc"
}

if [[ -n ${OUT:-} ]]; then
  mkdir -p "$OUT"
  main 2>&1 | tee "$OUT/gpu_check.txt"
  exit "${PIPESTATUS[0]}"
else
  main 2>&1
fi
