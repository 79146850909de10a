"""Fixtures: real target, draft and orchestrator processes (the Bazel-built binaries and the shipped
demo pair) on 127.0.0.1, each on a port it picks (--listen=127.0.0.1:0 --port_file).

TANDEM_RUNFILES is the runfiles root holding services/*/ and assets/ (run_pytest.sh sets it).
The servers run float32: greedy output is then token-identical across speculation modes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Iterator, List

import pytest

RUNFILES = Path(os.environ.get("TANDEM_RUNFILES", Path(__file__).resolve().parents[2]))
TMP = Path(os.environ.get("TEST_TMPDIR", "/tmp"))
LOGS = Path(os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", TMP))
TLS = RUNFILES / "tests/testdata/tls"
TOKEN = "python-client-test-token"


class Servers:
    def __init__(self) -> None:
        self.processes: List["subprocess.Popen[bytes]"] = []
        self.logs: List[IO[bytes]] = []
        self.backends: List[str] = []  # The orchestrator's --target, --draft and --tokenizer.

    def start(self, name: str, binary: str, *flags: str) -> str:
        """Starts services/<binary>/<binary> and returns its 127.0.0.1:<port> once it listens."""
        port_file = TMP / f"{name}.port"
        port_file.unlink(missing_ok=True)
        log = open(LOGS / f"{name}.log", "wb")
        self.logs.append(log)
        process = subprocess.Popen(
            [str(RUNFILES / "services" / binary / binary), "--listen=127.0.0.1:0",
             f"--port_file={port_file}", *flags],
            stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().endswith("\n")):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; log:\n"
                                   + (LOGS / f"{name}.log").read_text()[-3000:])
            time.sleep(0.05)
        return f"127.0.0.1:{int(port_file.read_text())}"

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    s = Servers()
    try:
        model = ["--dtype=float32", "--threads=1"]
        target = s.start("target", "target", f"--model={RUNFILES / 'assets/target'}", *model)
        draft = s.start("draft", "draft", f"--model={RUNFILES / 'assets/draft'}", *model)
        s.backends = [f"--target={target}", f"--draft={draft}",
                      f"--tokenizer={RUNFILES / 'assets/target'}"]
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def address(servers: Servers) -> str:
    """The orchestrator's plaintext GenerationService."""
    return servers.start("orchestrator", "orchestrator", *servers.backends)


@pytest.fixture(scope="session")
def tls_address(servers: Servers) -> str:
    """A second orchestrator over the same backends, with TLS and bearer-token authentication."""
    token_file = TMP / "token"
    token_file.write_text(TOKEN)
    return servers.start("orchestrator_tls", "orchestrator", *servers.backends,
                         f"--tls_cert={TLS / 'server.crt'}", f"--tls_key={TLS / 'server.key'}",
                         f"--auth_token_file={token_file}")
