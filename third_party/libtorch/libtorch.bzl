"""Repository rule that exposes a LibTorch installation as @libtorch//:libtorch.

The location comes from the TANDEM_LIBTORCH environment variable (a LibTorch
distribution root holding include/ and lib/, e.g. an unpacked CUDA LibTorch zip
or `python3 -c 'import torch;print(torch.utils.cmake_prefix_path)'`/../..).
Without it, Debian's libtorch-dev under /usr is used. Changing the variable
re-runs the rule, so no file has to be edited to switch LibTorch builds:

    TANDEM_LIBTORCH=/opt/libtorch bazel build //...
or  bazel build --repo_env=TANDEM_LIBTORCH=/opt/libtorch //...
"""

_TORCH_HEADER_DIRS = ["ATen", "c10", "caffe2", "torch", "TH", "THC", "THCUNN", "kineto", "pybind11"]

def _find_libdir(rctx, root):
    for candidate in ["lib", "lib/x86_64-linux-gnu", "lib64"]:
        if rctx.path(root + "/" + candidate + "/libtorch_cpu.so").exists:
            return root + "/" + candidate
    fail("TANDEM_LIBTORCH=%s: no libtorch_cpu.so under lib/, lib/x86_64-linux-gnu/ or lib64/" % root)

def _libtorch_impl(rctx):
    root = rctx.os.environ.get("TANDEM_LIBTORCH", "/usr")
    include = rctx.path(root + "/include")
    if not include.exists:
        fail("TANDEM_LIBTORCH=%s: missing include/ directory" % root)

    # Only the torch header trees are linked in: a system prefix like /usr has
    # thousands of unrelated headers under include/.
    linked = 0
    for name in _TORCH_HEADER_DIRS:
        src = rctx.path(root + "/include/" + name)
        if src.exists:
            rctx.symlink(src, "include/" + name)
            linked += 1
    if not rctx.path(root + "/include/torch/csrc/api/include/torch/torch.h").exists:
        fail("TANDEM_LIBTORCH=%s: include/torch/csrc/api/include/torch/torch.h not found" % root)

    libdir = _find_libdir(rctx, root)
    has_cuda = rctx.path(libdir + "/libtorch_cuda.so").exists
    libs = ["-ltorch", "-ltorch_cpu", "-lc10"]
    if has_cuda:
        # torch_cuda registers its kernels from static initialisers: keep it linked.
        libs = ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"] + libs

    rctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "libtorch",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh"], allow_empty = True),
    includes = ["include", "include/torch/csrc/api/include"],
    defines = {defines},
    linkopts = ["-L{libdir}", "-Wl,-rpath,{libdir}"] + {libs},
)
""".format(
        libdir = libdir,
        libs = repr(libs),
        defines = repr(["TANDEM_HAVE_CUDA=1"] if has_cuda else []),
    ))

libtorch_repository = repository_rule(
    implementation = _libtorch_impl,
    environ = ["TANDEM_LIBTORCH"],
    local = True,
)
