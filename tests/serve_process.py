"""A `proofcheck serve` subprocess on a free port of 127.0.0.1, and the /proc readings around it.

Used by the serve tests (tests/test_serve_api.py, tests/test_serve_browser.py) and by
benchmarks/serve_bench.py, so the tests and the benchmark start and stop servers the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 240  # seconds for a server to be warm (a loaded machine imports torch slowly)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
                out.extend(kids)
                todo.extend(kids)
        except OSError:
            pass
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


class Server:
    """A `proofcheck serve` subprocess (or a script that runs one) on a free port of 127.0.0.1; its output goes to
    a log file. As a context manager it is killed (if still running) and its log removed on exit."""

    def __init__(self, *options: str, script: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="proofcheck-serve-", suffix=".log", delete=False)
        if script is None:
            command = [sys.executable, "-m", "checkers", "serve", "--port", str(self.port), *options]
        else:
            command = [sys.executable, "-c", script, str(self.port), *options]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.output()}")
                try:
                    if client.get("/api/health").json()["ready"]:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"the server was not warm within {START_TIMEOUT} s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int, list[int]]:
        """Send `sig`, wait for the exit; returns the exit code and the processes that were below the server."""
        below = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the server did not stop within {timeout} s of signal {sig}") from None
        return code, below

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.unlink(self.log.name)
