"""Start the simulator as a subprocess, for tests and benchmarks.

A subprocess (not a thread) so the simulator's event loop never competes with
the code under test for the GIL, and so a test can kill it like a real outage.

    with start_simulator({"default": {"output_tokens": 5}}) as sim:
        client = openai.OpenAI(base_url=sim.openai_base_url(), api_key="sk-test", max_retries=0)
        ...
        assert sim.stats()["by_provider"]["openai"] == 1

The process is always stopped: by ``stop()``, the context manager, an
``atexit`` hook, and (if the test process itself is killed) by the simulator
noticing its parent is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from scripts.simulator.config import FaultRule, ModelBehaviour, SimulatorConfig, load_config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = "simulator listening on"  # keep in step with server.LISTENING (not imported: no aiohttp here)


class SimulatorError(RuntimeError):
    """The simulator did not start, or a control call failed."""


def _plain(value: Any) -> Any:
    """Pydantic models to JSON-able data; everything else as is."""
    if isinstance(value, FaultRule | ModelBehaviour | SimulatorConfig):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class SimulatorProcess:
    """A running simulator subprocess and a small synchronous client for its control API."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, workdir: tempfile.TemporaryDirectory[str]) -> None:
        self.process = process
        self.url = url
        self._workdir = workdir
        atexit.register(self.stop)

    # -- addresses for the SDKs ---------------------------------------------------------------

    def openai_base_url(self, provider: str = "openai") -> str:
        """``base_url`` for ``openai.OpenAI`` (OpenAI protocol under ``/{provider}/v1``)."""
        return f"{self.url}/{provider}/v1"

    def anthropic_base_url(self, provider: str = "anthropic") -> str:
        """``base_url`` for ``anthropic.Anthropic`` (the SDK appends ``/v1/messages``)."""
        return f"{self.url}/{provider}"

    # -- control API ----------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the control API; returns the decoded JSON answer."""
        data = None if body is None else json.dumps(_plain(body)).encode()
        req = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise SimulatorError(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from None

    def health(self) -> bool:
        try:
            return self.request("GET", "/_sim/health", timeout=1.0) == {"status": "ok"}
        except (OSError, SimulatorError):
            return False

    def stats(self) -> dict[str, Any]:
        return self.request("GET", "/_sim/stats")  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Zero the stats counters."""
        self.request("POST", "/_sim/reset")

    def set_faults(self, rules: Sequence[FaultRule | Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace all fault rules (``[]`` clears them); schedules count from now."""
        return self.request("PUT", "/_sim/faults", list(rules))  # type: ignore[no-any-return]

    def faults(self) -> list[dict[str, Any]]:
        return self.request("GET", "/_sim/faults")  # type: ignore[no-any-return]

    def set_models(
        self,
        models: Mapping[str, ModelBehaviour | Mapping[str, Any]] | None = None,
        default: ModelBehaviour | Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Add or replace model behaviours (all of them with ``replace``) and/or the default."""
        body: dict[str, Any] = {"models": dict(models or {}), "replace": replace}
        if default is not None:
            body["default"] = default
        return self.request("PUT", "/_sim/models", body)  # type: ignore[no-any-return]

    # -- lifetime -----------------------------------------------------------------------------------

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._workdir.cleanup()
        atexit.unregister(self.stop)

    def log(self) -> str:
        """What the simulator printed so far (stdout and stderr)."""
        with contextlib.suppress(OSError):
            return (Path(self._workdir.name) / "simulator.log").read_text(errors="replace")
        return ""

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimulatorProcess(url={self.url!r}, pid={self.process.pid})"


def start_simulator(
    config: SimulatorConfig | dict[str, Any] | None = None,
    port: int | None = None,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = 30.0,
) -> SimulatorProcess:
    """Start ``python -m scripts.simulator`` with ``config`` and wait until ``/_sim/health`` answers.

    ``port=None`` lets the OS pick a free port (the config's port is ignored);
    the URL is read back from the simulator's "listening on" line, so there is
    no race between choosing a port and binding it.
    """
    resolved = load_config(config).model_copy(update={"host": host, "port": 0 if port is None else port})
    workdir = tempfile.TemporaryDirectory(prefix="llm-broker-sim-")
    config_path = Path(workdir.name) / "config.json"
    config_path.write_text(resolved.model_dump_json(), encoding="utf-8")
    log_path = Path(workdir.name) / "simulator.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.simulator", "--config", str(config_path), "--exit-with-parent"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=PROJECT_ROOT,
        )
    deadline = time.monotonic() + startup_timeout
    url = None
    try:
        while url is None:
            url = _announced_url(log_path)
            _check_alive(process, log_path, deadline)
            if url is None:
                time.sleep(0.05)
        sim = SimulatorProcess(process, url.replace("//0.0.0.0:", "//127.0.0.1:"), workdir)
        while not sim.health():
            _check_alive(process, log_path, deadline)
            time.sleep(0.05)
        return sim
    except BaseException:
        process.kill()
        process.wait()
        workdir.cleanup()
        raise


def _announced_url(log_path: Path) -> str | None:
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith(LISTENING):
            return line[len(LISTENING) :].strip()
    return None


def _check_alive(process: subprocess.Popen[bytes], log_path: Path, deadline: float) -> None:
    if process.poll() is not None:
        raise SimulatorError(f"simulator exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
    if time.monotonic() > deadline:
        raise SimulatorError(f"simulator not ready in time:\n{log_path.read_text(errors='replace')}")
