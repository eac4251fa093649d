"""The version report on real DuckDB over Parquet written by the sinks' own writers."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.ledger.storage import LedgerStorage
from broker.prompts.report import prompt_report
from schemas.prompts import FeedbackRecord
from schemas.usage import UsageRecord
from workers.feedback_sink import write_feedback
from workers.usage_sink import write_records

T0 = 1_780_000_000.0


def usage(job: str, version: int | None, template: str | None = "alpha/t", **over: object) -> UsageRecord:
    base = {
        "job_id": job,
        "attempt": 1,
        "team": "alpha",
        "user": "u",
        "key_id": "k",
        "feature": "f",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "state": "succeeded",
        "input_tokens": 100,
        "output_tokens": 10 * (version or 1),
        "cost_usd": 0.001 * (version or 1),
        "latency_ms": 100.0 * (version or 1),
        "template_id": template,
        "template_version": version,
        "created_at": T0,
        "finished_at": T0 + 1,
    }
    return UsageRecord.model_validate({**base, **over})


def feedback(job: str, version: int, score: float, at: float = T0 + 5) -> FeedbackRecord:
    return FeedbackRecord(
        job_id=job,
        team="alpha",
        feature="f",
        template_id="alpha/t",
        template_version=version,
        score=score,
        created_at=at,
    )


def test_report_on_an_empty_ledger_has_no_versions(tmp_path: Path) -> None:
    report = prompt_report(tmp_path / "ledger", tmp_path / "feedback", "alpha/t")
    assert report.versions == [] and report.baseline is None


def test_report_groups_by_version_with_latest_feedback_and_welch_interval(tmp_path: Path) -> None:
    ledger, fb = tmp_path / "ledger", tmp_path / "feedback"
    rows = [usage(f"a{i}", 1) for i in range(6)] + [usage(f"b{i}", 2) for i in range(4)]
    rows += [usage("b-failed", 2, state="failed", output_tokens=0, cost_usd=0.0, latency_ms=5.0)]
    rows += [usage("b-hit", 2, cache_hit=True, cost_usd=0.0), usage("other", 1, template="alpha/other")]
    rows += [usage("plain", None, template=None)]
    write_records(LedgerStorage(ledger), rows, (1, 0))
    write_records(LedgerStorage(ledger), rows[:3], (2, 0))  # a rewritten batch must not count twice

    scores_a = [0.5, 0.6, 0.7, 0.5, 0.6, 0.7]
    scores_b = [0.8, 0.9, 1.0, 0.9]
    records = [feedback(f"a{i}", 1, -5.0, at=T0 + 2) for i in range(6)]  # later corrected
    records += [feedback(f"a{i}", 1, s) for i, s in enumerate(scores_a)]
    records += [feedback(f"b{i}", 2, s) for i, s in enumerate(scores_b)]
    write_feedback(fb, records[:6], "1_0-1_0")
    write_feedback(fb, records[6:], "2_0-3_0")

    report = prompt_report(ledger, fb, "alpha/t")
    assert report.baseline == 1
    one, two = report.versions
    assert (one.version, one.jobs, one.failed, one.scored) == (1, 6, 0, 6)
    assert (two.version, two.jobs, two.failed, two.succeeded, two.scored) == (2, 6, 1, 5, 4)
    assert two.failure_rate == pytest.approx(1 / 6)
    assert two.cache_hit_rate == pytest.approx(1 / 6)
    assert one.cost_usd == pytest.approx(0.006) and two.cost_usd == pytest.approx(0.002 * 4)
    assert two.cost_per_job_usd == pytest.approx(0.008 / 6)
    assert (one.input_tokens, one.output_tokens) == (600, 60)
    assert two.mean_latency_ms == pytest.approx(200.0)  # succeeded jobs only
    assert one.mean_score == pytest.approx(0.6) and two.mean_score == pytest.approx(0.9)
    assert one.score_diff is None
    assert two.score_diff == pytest.approx(0.3)
    assert two.score_diff_low is not None and two.score_diff_high is not None
    assert 0 < two.score_diff_low < 0.3 < two.score_diff_high

    against_two = prompt_report(ledger, fb, "alpha/t", baseline=2, level=0.9)
    assert against_two.versions[0].score_diff == pytest.approx(-0.3)
    assert against_two.versions[1].score_diff is None
    assert prompt_report(ledger, fb, "alpha/other").versions[0].jobs == 1
