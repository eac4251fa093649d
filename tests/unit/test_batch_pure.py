"""Pure parts of the Batch API: line parsing, job ids, windows, the keeper's plan, result lines,
the batch object."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.batches.lines import (
    BatchLine,
    LineError,
    completion_window_s,
    line_job_id,
    parse_line,
    with_batch_metadata,
)
from broker.batches.plan import Action, final_status, plan
from broker.batches.results import EXPIRED_REASON, job_line, split_files
from broker.batches.view import batch_object
from schemas.batch import BatchStatus


def good(custom_id: str = "a", **body: object) -> str:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **body}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": request})


@pytest.mark.parametrize(
    ("text", "param", "needle"),
    [
        ("{not json", None, "not valid JSON"),
        ("[1, 2]", None, "JSON object"),
        (json.dumps({"method": "POST"}), "custom_id", "non-empty"),
        (good(extra=1), "body.extra", "Extra inputs"),
        (good().replace('"user"', '"wizard"'), "body.messages[0].role", "Input should be"),
        (good(max_tokens=0), "body.max_tokens", "greater than or equal"),
        (good(stream=True), "body.stream", "cannot stream"),
        (good().replace("/v1/chat/completions", "/v1/embeddings"), "url", "must be"),
        (good().replace('"POST"', '"GET"'), "method", "POST"),
        (json.dumps({"custom_id": "x", "url": "/v1/chat/completions", "body": {"model": "m"}}), "body.messages", ""),
        (json.dumps({"custom_id": "x", "url": "/v1/chat/completions", "body": {}, "extra": 1}), "extra", "unknown"),
    ],
)
def test_invalid_lines_name_the_line_and_field(text: str, param: str | None, needle: str) -> None:
    parsed = parse_line(17, text, set())
    assert isinstance(parsed, LineError)
    assert parsed.param == param
    assert parsed.message.startswith(f"line 17: {param + ': ' if param else ''}")
    assert needle in parsed.message
    assert LineError.from_json(parsed.to_json()) == parsed


def test_duplicate_custom_ids_are_refused() -> None:
    seen: set[str] = set()
    assert isinstance(parse_line(1, good("a"), seen), BatchLine)
    second = parse_line(2, good("a"), seen)
    assert isinstance(second, LineError) and second.param == "custom_id" and "duplicate" in second.message


def test_batch_metadata_is_the_default_for_each_lines_metadata() -> None:
    parsed = parse_line(1, good(metadata={"owner": "me"}), set(), {"feature": "digest", "owner": "x", "team": "t"})
    assert isinstance(parsed, BatchLine)
    assert parsed.request.metadata.feature == "digest"
    assert parsed.request.metadata.model_extra == {"owner": "me"}  # the line's own key wins; team is the batch's
    assert with_batch_metadata({"metadata": "bad"}, {"feature": "x"}) == {"metadata": "bad"}


@given(st.text(min_size=1, max_size=30), st.floats(min_value=1e9, max_value=4e9), st.integers(1, 50_000))
def test_line_job_ids_are_stable_and_shaped_like_job_ids(batch_id: str, created: float, line: int) -> None:
    job_id = line_job_id(batch_id, created, line)
    assert job_id == line_job_id(batch_id, created, line)
    assert job_id != line_job_id(batch_id, created, line + 1)
    assert job_id.startswith("job_") and len(job_id) == 4 + 12 + 16


def test_completion_windows() -> None:
    assert [completion_window_s(w) for w in ("24h", "90m", "2s", "1d")] == [86400, 5400, 2, 86400]


def record(**fields: object) -> dict[str, str]:
    base = {"id": "batch_1", "status": "in_progress", "expanded": "1", "expires_at": "1000", "validating_until": "0"}
    return {**base, **{k: str(v) for k, v in fields.items()}}


def test_the_keepers_plan() -> None:
    assert plan(record(status="completed"), 0, 10).action is Action.FORGET
    assert plan(record(status="validating", expanded="0", validating_until=50), 10, 10).action is Action.WAIT
    assert plan(record(status="validating", expanded="0", validating_until=50), 60, 10).action is Action.EXPAND
    cancelling = plan(record(status="cancelling"), 10, 10)
    assert (cancelling.action, cancelling.reason) == (Action.SWEEP, "cancelled")
    assert plan(record(status="cancelling", swept="cancelled"), 10, 10).action is Action.CHECK
    expiring = plan(record(), 1000, 10)
    assert (expiring.action, expiring.reason) == (Action.SWEEP, "expired")
    early = plan(record(), 995, 10)
    assert early.action is Action.CHECK and early.at == 1000  # look again when the window ends
    assert plan(record(), 100, 10).at == 110
    assert final_status(record(status="cancelling")) is BatchStatus.CANCELLED
    assert final_status(record(status="finalizing", swept="expired")) is BatchStatus.EXPIRED
    assert final_status(record(status="finalizing")) is BatchStatus.COMPLETED


def test_result_lines_follow_openais_format() -> None:
    result = {"id": "chatcmpl-1", "object": "chat.completion", "choices": [], "usage": {}}
    ok = job_line(3, "job_abc", "c3", {"state": "succeeded", "result": json.dumps(result)})
    failed = job_line(1, "job_def", "c1", {"state": "failed", "error": "400: no", "attempts": '[{"status_code": 400}]'})
    expired = job_line(2, "job_ghi", "c2", {"state": "cancelled", "error": EXPIRED_REASON})
    never = job_line(4, "job_jkl", "c4", None)
    output, errors = split_files([ok, failed, expired, never])
    assert json.loads(output[0]) == {
        "id": "batch_req_abc",
        "custom_id": "c3",
        "response": {"status_code": 200, "request_id": "job_abc", "body": result},
        "error": None,
    }
    assert [json.loads(e)["custom_id"] for e in errors] == ["c1", "c2", "c4"]
    assert json.loads(errors[0])["response"]["status_code"] == 400
    assert json.loads(errors[1])["error"]["code"] == "batch_expired"
    assert json.loads(errors[2])["error"]["code"] == "batch_cancelled"


def test_batch_object_counts_invalid_and_cancelled_lines_as_failed() -> None:
    fields = {
        "id": "batch_1",
        "status": "in_progress",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-1",
        "completion_window": "24h",
        "created_at": "1700000000.5",
        "in_progress_at": "1700000001.2",
        "n_lines": "10",
        "n_invalid": "2",
        "metadata": '{"feature": "x"}',
    }
    live = {
        "jobs": 8,
        "succeeded": 3,
        "failed": 1,
        "cancelled": 1,
        "input_tokens": 30,
        "output_tokens": 12,
        "cost_usd": 0.5,
    }
    batch = batch_object(fields, live)
    assert batch.request_counts.model_dump() == {"total": 10, "completed": 3, "failed": 4}
    assert batch.progress is not None and batch.progress.queued == 3
    assert batch.usage is not None and batch.usage.total_tokens == 42
    assert batch.in_progress_at == 1700000001 and batch.metadata == {"feature": "x"}
