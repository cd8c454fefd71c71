"""The processes the benchmark starts (gunicorn, Celery, an SMTP sink), on loopback only.

Each runs in its own process group, with its output in bench/var/logs/, and is stopped by
that group alone: nothing else on the machine is touched.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LOGS = Path(__file__).resolve().parent / "var" / "logs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    def start(self, *, ready_timeout: float = 60.0) -> Process:
        LOGS.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if self.port is not None:
            deadline = time.monotonic() + ready_timeout
            while not port_open(self.port):
                if self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start: {self.tail()}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.name} did not listen on {self.port} within {ready_timeout:.0f} s")
                time.sleep(0.2)
        return self

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        except ProcessLookupError:
            pass

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def children(self) -> list[int]:
        return children(self.pid)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def rss_report(process: Process) -> dict[str, object]:
    """The parent's and each child's resident memory, in MB."""
    kids = process.children()
    return {
        "parent_mb": rss_mb(process.pid),
        "children_mb": [rss_mb(k) for k in kids],
        "max_child_mb": max((rss_mb(k) or 0.0 for k in kids), default=None),
    }
