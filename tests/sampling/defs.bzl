"""A cc_test with the dependencies every sampling test shares."""

def sampling_test(name, deps = [], size = "small", shard_count = None):
    native.cc_test(
        name = name,
        size = size,
        shard_count = shard_count,
        srcs = [name + ".cc"],
        deps = deps + [
            ":test_util",
            "//tests/testing:statistics",
            "//third_party/system:gtest_main",
            "@libtorch",
        ],
    )
