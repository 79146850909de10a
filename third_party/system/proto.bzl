"""Protobuf + gRPC C++ code generation with Debian's protoc and grpc_cpp_plugin."""

def cc_grpc_proto_library(name, srcs, deps = [], grpc = True, visibility = None):
    """Generates C++ messages (and gRPC stubs if grpc) for srcs; one cc_library `name`.

    Protos import each other by workspace-relative path (e.g. "proto/tandem/v1/x.proto").
    deps: other cc_grpc_proto_library targets whose protos srcs import.
    """
    pb_srcs = []
    pb_hdrs = []
    for src in srcs:
        base = src[:-len(".proto")]
        pb_srcs.append(base + ".pb.cc")
        pb_hdrs.append(base + ".pb.h")
        if grpc:
            pb_srcs.append(base + ".grpc.pb.cc")
            pb_hdrs.append(base + ".grpc.pb.h")

    dep_protos = [d + "_protos" for d in deps]
    native.filegroup(name = name + "_protos", srcs = srcs + dep_protos, visibility = visibility)

    cmd = " ".join([
        "/usr/bin/protoc",
        "-I.",
        "-I$(GENDIR)",
        "--cpp_out=$(GENDIR)",
    ] + ([
        "--grpc_out=$(GENDIR)",
        "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
    ] if grpc else []) + ["$(locations %s)" % s for s in srcs])

    native.genrule(
        name = name + "_gen",
        srcs = srcs + dep_protos,
        outs = pb_srcs + pb_hdrs,
        cmd = cmd,
    )
    native.cc_library(
        name = name,
        srcs = pb_srcs,
        hdrs = pb_hdrs,
        deps = deps + ["//third_party/system:grpc", "//third_party/system:protobuf"],
        visibility = visibility,
    )
