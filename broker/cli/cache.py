"""``llm-broker cache …`` (calibrate, stats, purge) and ``llm-broker cache-worker``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from broker.settings import current_config

cache_app = typer.Typer(no_args_is_help=True, help="The answer cache: calibrate its threshold, inspect, purge.")


@cache_app.command()
def calibrate(
    pairs_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL of {a, b, same} pairs")],
    target_precision: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.99,
    low: Annotated[float, typer.Option(help="lowest threshold tried")] = 0.5,
    high: Annotated[float, typer.Option(help="highest threshold tried")] = 0.99,
    step: Annotated[float, typer.Option()] = 0.01,
    half: Annotated[
        int | None, typer.Option(min=0, max=1, help="only one half of the file: 0 (even lines) or 1 (odd lines)")
    ] = None,
    at: Annotated[float | None, typer.Option(help="also report the figures at this threshold")] = None,
    same_words_at: Annotated[
        float | None, typer.Option(help="... with this same-words threshold (default: --at)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Precision, recall and hit rate at each threshold, with and without the near-miss guard;
    recommends the lowest thresholds reaching the target precision (with the guard): one for
    pairs the guard reads as the same words, one for rewordings. ``--half`` and ``--at`` fit
    on one half of a file and check the result on the other."""
    from broker.cache import calibration
    from broker.cache.guard import judge
    from workers.cache.embedder import build_embedder

    config = current_config()
    pairs = calibration.load_pairs(pairs_file)
    if half is not None:
        pairs = [pairs[i] for i in calibration.half(pairs, half)]
    if not pairs:
        raise typer.BadParameter("no pairs in the file", param_hint="PAIRS_FILE")
    embedder = build_embedder(config.cache.embedder)
    left = embedder.embed([p.a for p in pairs])
    right = embedder.embed([p.b for p in pairs])
    similarity = [sum(x * y for x, y in zip(u, v, strict=True)) for u, v in zip(left, right, strict=True)]
    verdicts = [judge(p.a, p.b) for p in pairs]
    guard_ok = [not v.reasons for v in verdicts]
    same_words = [v.same_words for v in verdicts]
    levels = calibration.thresholds(low, high, step)
    rows = calibration.table(pairs, similarity, guard_ok, levels)
    same_rows = calibration.same_words_table(pairs, similarity, guard_ok, same_words, levels)
    chosen = calibration.recommend_two(pairs, similarity, guard_ok, same_words, levels, target_precision)
    single = calibration.recommend(rows, target_precision)
    unguarded = calibration.recommend(rows, target_precision, guard=False)
    wrong = (
        calibration.false_hits(pairs, similarity, guard_ok, chosen.threshold, same_words, chosen.same_words_threshold)
        if chosen
        else []
    )
    report: dict[str, Any] = {
        "pairs": len(pairs),
        "half": half,
        "positives": sum(1 for p in pairs if p.same),
        "same_words_pairs": sum(1 for ok, same in zip(guard_ok, same_words, strict=True) if ok and same),
        "embedder": embedder.name,
        "target_precision": target_precision,
        "recommended": chosen.__dict__ if chosen else None,
        "recommended_single_threshold": single.__dict__ if single else None,
        "recommended_without_guard": unguarded.__dict__ if unguarded else None,
        "false_hits_at_recommended": wrong,
        "table": [row.__dict__ for row in rows],
        "same_words_table": [row.__dict__ for row in same_rows],
    }
    if at is not None:
        same_at = at if same_words_at is None else min(same_words_at, at)
        fixed = calibration.evaluate(pairs, similarity, guard_ok, at, True, same_words, same_at)
        report["at"] = fixed.__dict__
        report["false_hits_at"] = calibration.false_hits(pairs, similarity, guard_ok, at, same_words, same_at)
    if as_json:
        typer.echo(json.dumps(report))
        return
    _print_table(rows, same_rows, report)


def _print_table(rows: list[Any], same_rows: list[Any], report: dict[str, Any]) -> None:
    counts = f"{report['positives']} should hit, {report['same_words_pairs']} read as the same words"
    title = f"{report['pairs']} pairs ({counts})"
    table = Table(title=f"{title}, {report['embedder']}")
    columns = ("threshold", "precision", "recall", "hit rate", "precision (no guard)", "recall (no guard)")
    for column in (*columns, "same words: precision", "same words: hits"):
        table.add_column(column, justify="right")
    by_guard = {(r.threshold, r.guard): r for r in rows}
    by_same = {r.threshold: r for r in same_rows}
    for threshold in sorted({r.threshold for r in rows}):
        g, n, s = by_guard[(threshold, True)], by_guard[(threshold, False)], by_same[threshold]
        table.add_row(
            f"{threshold:.2f}",
            _fmt(g.precision),
            f"{g.recall:.3f}",
            f"{g.hit_rate:.3f}",
            _fmt(n.precision),
            f"{n.recall:.3f}",
            _fmt(s.precision),
            str(s.hits),
        )
    console = Console()
    console.print(table)
    for label, chosen in (("recommended", report["recommended"]), ("at", report.get("at"))):
        if chosen is None:
            if label == "recommended":
                console.print(f"no threshold reaches precision {report['target_precision']} with the guard")
            continue
        console.print(
            f"{label}: threshold {chosen['threshold']:.2f}, same-words threshold {chosen['same_words_threshold']:.2f}:"
            f" precision {chosen['precision']} (95% lower bound {chosen['precision_low95']}),"
            f" recall {chosen['recall']}, hit rate {chosen['hit_rate']}, false hits {chosen['false_hits']}"
        )
    for key in ("false_hits_at_recommended", "false_hits_at"):
        for pair in report.get(key, []):
            label = f"{pair['id'] or ''} ({pair['kind']}, {pair['similarity']})"
            console.print(f"  false hit {label}: {pair['a']!r} / {pair['b']!r}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@cache_app.command()
def stats(team: Annotated[str, typer.Option(help="team, or @org for the org-wide scope")]) -> None:
    """How many scopes and entries a team's cache holds."""
    from broker.cache.canonical import ORG_OWNER, cache_owner
    from broker.cache.purge import owner_stats
    from broker.redis_clients import async_client

    config = current_config()

    async def run() -> dict[str, Any]:
        redis = async_client(config)
        try:
            owner = team if team == ORG_OWNER else cache_owner(team, config)
            return {"owner": owner, **await owner_stats(redis, owner)}
        finally:
            await redis.aclose()

    typer.echo(json.dumps(asyncio.run(run())))


@cache_app.command()
def purge(
    team: Annotated[str | None, typer.Option(help="a team, or @org for the org-wide scope")] = None,
    template: Annotated[str | None, typer.Option(help="a prompt template id")] = None,
    version: Annotated[int | None, typer.Option(help="the template's version (default: every version)")] = None,
    everything: Annotated[bool, typer.Option("--all", help="every team's entries")] = False,
) -> None:
    """Purge cached answers (operator path, straight to the broker's Redis)."""
    from broker.auth import Principal
    from broker.cache.dispatch import CacheSender
    from broker.cache.purge import purge as purge_entries
    from broker.cache.purge import purge_selector
    from broker.errors import BrokerError
    from broker.redis_clients import async_client
    from broker.scheduler.dispatch import make_sender
    from broker.settings import redis_url

    config = current_config()
    if team is None and not everything and template is None:
        raise typer.BadParameter("say what to purge: --team, --template or --all")
    operator = Principal(team=team or next(iter(config.teams), ""), user="cli", key_id="cli", admin=True)
    try:
        selector = purge_selector(operator, config, team, everything or team is None, template, version)
    except BrokerError as exc:
        raise typer.BadParameter(exc.message) from exc

    async def run() -> int:
        redis = async_client(config)
        try:
            return await purge_entries(redis, selector)
        finally:
            await redis.aclose()

    removed = asyncio.run(run())
    CacheSender(make_sender(redis_url(config))).purge(selector.as_dict())
    typer.echo(json.dumps({"purged": removed, **selector.as_dict()}))


def cache_worker(
    concurrency: Annotated[int | None, typer.Option(help="Celery threads (default cache.worker_concurrency)")] = None,
) -> None:
    """Run the cache worker: lookups before admission, storing answers, purges (queue ``cache``).
    With embedded Chroma run exactly one; with ``cache.chroma.mode: http`` as many as you like."""
    from schemas.messages import CACHE_QUEUE
    from workers.cache.build import freeze_loaded_heap
    from workers.cache.tasks import service
    from workers.celery_app import app as celery_app

    config = current_config()
    service()  # load the embedder and open Chroma before taking any message
    freeze_loaded_heap()
    celery_app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or config.cache.worker_concurrency}",
            f"--queues={CACHE_QUEUE}",
            f"--hostname=cache@{socket.gethostname()}-{os.getpid()}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ]
    )


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
    app.command("cache-worker")(cache_worker)
