"""tandem_fuzz_target: one libFuzzer entry point, built two ways.

For a target `name` with entry point sources `srcs`:
  :<name>_lib   the entry point (LLVMFuzzerTestOneInput), alwayslink.
  :<name>_test  a cc_test that replays corpus/<corpus>/ through the entry point
                with replay_main.cc; it runs in every `bazel test //...`.
  :<name>       a cc_binary: under --config=fuzz (which sets
                --define=tandem_fuzz=1) the libFuzzer engine, linked with
                -fsanitize=fuzzer; otherwise the same replay driver as the test,
                so `bazel build //...` builds it with gcc too.
See docs/fuzzing.md.
"""

def tandem_fuzz_target(name, srcs, corpus, deps = [], size = "small"):
    native.cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = srcs,
        deps = deps,
        alwayslink = True,
    )
    corpus_files = native.glob(["corpus/" + corpus + "/**"])
    native.cc_test(
        name = name + "_test",
        size = size,
        args = ["tests/fuzz/corpus/" + corpus],
        data = corpus_files,
        deps = [
            ":" + name + "_lib",
            ":replay_main",
        ],
    )
    native.cc_binary(
        name = name,
        testonly = True,
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = [":" + name + "_lib"] + select({
            ":fuzzing": [],
            "//conditions:default": [":replay_main"],
        }),
    )
