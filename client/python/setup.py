"""Build hook: generates the tandem.v1 message and gRPC stubs into the package at build time.

The stubs are generated from the repository's proto/tandem/v1/*.proto (found at ../../ relative to
this file, or under $TANDEM_PROTO_ROOT), so an installed package always matches the contract it
was built from. Generated code is never checked in.

Import paths: the protos import each other as "proto/tandem/v1/common.proto", so protoc writes
modules that import `proto.tandem.v1.common_pb2`. A top-level `proto` package would collide with
other distributions (proto-plus installs one), so the modules are generated under
`tandem/_gen/proto/tandem/v1/` and their `from proto.` imports are rewritten to
`from tandem._gen.proto.` — a fixed, anchored rewrite of protoc's own output. The descriptor
file names stay "proto/tandem/v1/*.proto", as in the C++ build.

Needs protoc (Debian protobuf-compiler) and grpc_python_plugin (protobuf-compiler-grpc); override
their paths with $PROTOC and $GRPC_PYTHON_PLUGIN.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROTOS = ["proto/tandem/v1/common.proto", "proto/tandem/v1/generation_service.proto"]
GEN_PACKAGE = "tandem._gen"
_IMPORT = re.compile(r"^from proto\.", re.MULTILINE)


def _proto_root() -> Path:
    given = os.environ.get("TANDEM_PROTO_ROOT")
    candidates = ([Path(given)] if given else []) + [HERE.parent.parent]
    for root in candidates:
        if all((root / p).is_file() for p in PROTOS):
            return root.resolve()
    sys.exit(
        "tandem-client: cannot find " + PROTOS[-1] + " under " + ", ".join(map(str, candidates))
        + ". Install from a tandem checkout (pip install ./client/python) or set TANDEM_PROTO_ROOT"
        " to the directory that holds proto/."
    )


def _tool(env: str, name: str, package: str) -> str:
    path = os.environ.get(env) or shutil.which(name)
    if not path:
        sys.exit(f"tandem-client: {name} not found (Debian package {package}); or set ${env}")
    return path


def generate_stubs(out_dir: Path) -> None:
    """Writes tandem/_gen/proto/tandem/v1/*_pb2{,_grpc}.py and *_pb2.pyi under out_dir."""
    root = _proto_root()
    gen = out_dir / GEN_PACKAGE.replace(".", "/")
    if gen.exists():
        shutil.rmtree(gen)
    gen.mkdir(parents=True)
    protoc = _tool("PROTOC", "protoc", "protobuf-compiler")
    plugin = _tool("GRPC_PYTHON_PLUGIN", "grpc_python_plugin", "protobuf-compiler-grpc")
    subprocess.run(
        [protoc, f"-I{root}", f"--python_out={gen}", f"--pyi_out={gen}", f"--grpc_python_out={gen}",
         f"--plugin=protoc-gen-grpc_python={plugin}", *PROTOS],
        check=True,
    )
    for directory in [gen, *(d for d in gen.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").touch()
    for module in [*gen.rglob("*.py"), *gen.rglob("*.pyi")]:
        text = module.read_text()
        module.write_text(_IMPORT.sub(f"from {GEN_PACKAGE}.proto.", text))


class BuildPyWithStubs(build_py):
    def run(self) -> None:
        super().run()
        generate_stubs(Path(self.build_lib))


setup(cmdclass={"build_py": BuildPyWithStubs})
