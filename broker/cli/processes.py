"""Long-running process commands: each starts one component and runs until interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from broker.cli.running import setup_logging, stop_on_signals
from broker.settings import current_config, home_dir, load_config, redis_url

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: sample)")]


def api(host: Annotated[str | None, typer.Option()] = None, port: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from broker.api.app import create_app

    config = current_config()
    uvicorn.run(
        create_app(config),
        host=host or config.api.host,
        port=port or config.api.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        backlog=4096,
    )


def scheduler() -> None:
    """Admit queued jobs and dispatch them to provider queues (run as many as you like)."""
    from broker.jobstore.lifecycle import JobLifecycle
    from broker.redis_clients import async_client
    from broker.scheduler.admission import TokenAdmission
    from broker.scheduler.dispatch import make_sender
    from broker.scheduler.loop import Scheduler

    setup_logging()
    config = current_config()

    async def main() -> None:
        stop = stop_on_signals()
        redis = async_client(config)
        lifecycle = JobLifecycle(redis)
        runner = Scheduler(redis, config, TokenAdmission(lifecycle, config), make_sender(redis_url(config)), lifecycle)
        task = asyncio.create_task(runner.run(stop))
        await stop.wait()
        task.cancel()
        await redis.aclose()

    asyncio.run(main())


def worker(
    provider: Annotated[str, typer.Option(help="provider whose queue this worker serves")],
    concurrency: Annotated[int | None, typer.Option(help="Celery threads (calls in flight are async)")] = None,
) -> None:
    """Run a Celery worker for one provider queue."""
    config = current_config()
    if provider not in config.providers:
        raise typer.BadParameter(f"unknown provider {provider!r}; configured: {', '.join(config.providers)}")
    from schemas.messages import provider_queue
    from workers.celery_app import app as celery_app

    celery_app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or config.worker.concurrency}",
            f"--queues={provider_queue(provider)}",
            f"--hostname={provider}@{socket.gethostname()}-{os.getpid()}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ]
    )


def sink(consumer: Annotated[str, typer.Option(help="stable consumer name")] = "sink") -> None:
    """Drain the usage stream into the Parquet ledger (and compact it), and job feedback into
    its own table."""
    from broker.ledger import open_ledger
    from broker.redis_clients import sync_client
    from workers.feedback_sink import FeedbackSink
    from workers.usage_sink import UsageSink

    setup_logging()
    config = current_config()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    feedback = FeedbackSink(sync_client(config), home_dir() / "feedback", consumer)
    threading.Thread(target=feedback.run, args=(stop,), name="feedback-sink", daemon=True).start()
    UsageSink(sync_client(config), open_ledger(config), consumer, config.ledger).run(stop)


def flower(port: Annotated[int, typer.Option()] = 5555) -> None:
    """Serve Flower, Celery's monitoring UI, for the provider workers."""
    env = {**os.environ, "FLOWER_UNAUTHENTICATED_API": os.environ.get("FLOWER_UNAUTHENTICATED_API", "true")}
    command = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "flower", f"--port={port}"]
    raise typer.Exit(subprocess.call(command, env=env))


def simulate(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8900,
    config: Annotated[Path | None, typer.Option("--config", help="simulator YAML")] = None,
    latency: Annotated[float | None, typer.Option(help="fixed latency for every model, seconds")] = None,
) -> None:
    """Serve simulated OpenAI and Anthropic APIs on loopback (for demo, tests, benchmarks)."""
    from scripts.simulator.__main__ import main as simulator_main

    argv = ["--host", host, "--port", str(port)]
    if config:
        argv += ["--config", str(config)]
    if latency is not None:
        argv += ["--latency", str(latency)]
    simulator_main(argv)


def up(
    config: ConfigOpt = None,
    flower_port: Annotated[int, typer.Option(help="0 to skip Flower")] = 5555,
) -> None:
    """Start everything on this machine (embedded Redis, simulated providers unless real keys
    are set, API, scheduler, workers, usage sink, Flower) until Ctrl-C."""
    from broker.settings import CONFIG_ENV, sample_config_path
    from scripts.stack import Stack

    # never the effective config a previous `up` wrote: that one is derived, not a source
    source = config or Path(os.environ.get(CONFIG_ENV) or sample_config_path())
    validated = load_config(source)  # file plus environment overrides, checked before starting anything
    stack = Stack(validated.model_dump(mode="json"), home_dir())
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    failed: str | None = None
    try:
        stack.start(flower_port=flower_port or None)
        typer.echo(f"llm-broker is up: API {stack.api_url}  (logs in {stack.home / 'logs'}; Ctrl-C stops)")
        if flower_port:
            typer.echo(f"Flower: http://127.0.0.1:{flower_port}")
        while not stopping.wait(0.5):
            failed = next((name for name, proc in stack.processes.items() if proc.poll() is not None), None)
            if failed:
                typer.echo(f"{failed} exited unexpectedly; see {stack.log_path(failed)}", err=True)
                break
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("stopping...")
        stack.stop()
        stack.config_path.unlink(missing_ok=True)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (up, api, scheduler, worker, sink, flower, simulate):
        app.command()(command)
