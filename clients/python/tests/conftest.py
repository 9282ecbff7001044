"""Starts the real `hourglass` binary once per test session, on the in-memory store and a free port:
one without credentials, and one with an auth file of two tokens (`AUTH_TOKENS`).

The binary is $HOURGLASS_BIN, or target/debug/hourglass of the repository (built by
`cargo build -p hourglass-server --bin hourglass` or `cargo test --workspace`). When it is missing the
tests that need it are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest

ROOT = Path(__file__).resolve().parents[3]
START_WITHIN = 30.0
SERVING = b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING}

# The tokens of the authenticated server: role -> token. Both may touch the account "waba-py" only.
AUTH_TOKENS = {"gateway": "python-gateway-token", "reader": "python-reader-token"}
AUTH_ACCOUNT = "waba-py"


def _auth_file(path: Path) -> Path:
    entries = [
        f'[[tokens]]\nname = "python-{role}"\ntenant = "python"\nrole = "{role}"\n'
        f'sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"\naccounts = ["{AUTH_ACCOUNT}"]\n'
        for role, token in AUTH_TOKENS.items()
    ]
    path.write_text("\n".join(entries))
    return path


def _binary() -> Path:
    path = Path(os.environ.get("HOURGLASS_BIN", "target/debug/hourglass"))
    return path if path.is_absolute() else ROOT / path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serving(target: str) -> bool:
    """One grpc.health.v1.Health/Check of the whole server, encoded by hand (no extra dependency)."""
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda _: b"",
            response_deserializer=lambda raw: raw,
        )
        try:
            return bool(check(None, timeout=1.0) == SERVING)
        except grpc.RpcError:
            return False


class Server:
    """A running `hourglass --store memory:`; `target` is its HOST:PORT."""

    def __init__(self, process: subprocess.Popen[bytes], target: str, log: Path) -> None:
        self.process = process
        self.target = target
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _start(binary: Path, log: Path, extra: list[str]) -> Server:
    target = f"127.0.0.1:{_free_port()}"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(binary), "--listen", target, "--store", "memory:", *extra],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _serving(target):
            return Server(process, target, log)
        time.sleep(0.1)
    _stop(process)
    raise RuntimeError(
        f"hourglass did not serve on {target} within {START_WITHIN} s "
        f"(exit code {process.returncode}); its output:\n{log.read_text(errors='replace')}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve(extra: list[str], tmp: Path) -> Server:
    binary = _binary()
    if not binary.is_file():
        message = (
            f"no hourglass binary at {binary}: run `cargo build -p hourglass-server --bin hourglass` "
            "or set HOURGLASS_BIN"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    # A free port can be taken between the probe and the bind: try another one then.
    for attempt in range(3):
        try:
            return _start(binary, tmp / f"hourglass-{attempt}.log", extra)
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """`hourglass` without credentials."""
    with tempfile.TemporaryDirectory(prefix="hourglass-pytest-") as tmp:
        started = _serve([], Path(tmp))
        try:
            yield started
        finally:
            _stop(started.process)


@pytest.fixture(scope="session")
def authed_server() -> Iterator[Server]:
    """`hourglass --auth-file` with the tokens of `AUTH_TOKENS`."""
    with tempfile.TemporaryDirectory(prefix="hourglass-pytest-auth-") as tmp:
        auth = _auth_file(Path(tmp) / "auth.toml")
        started = _serve(["--auth-file", str(auth)], Path(tmp))
        try:
            yield started
        finally:
            _stop(started.process)
