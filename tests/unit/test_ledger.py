"""The ledger without Redis: file names, stale/superseded/compactable rules, and reports
through DuckDB over real Parquet files (local folder and the generic object-store path)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from pyarrow import fs as pafs

from broker.ledger.layout import (
    LedgerFile,
    Partition,
    compactable,
    file_name,
    parse_file,
    parse_partition,
    stale_batch_files,
    superseded,
)
from broker.ledger.render import chargeback_csv, to_csv
from broker.ledger.reports import ReportError, chargeback, ledger_spend, spend_report, totals
from broker.ledger.storage import LedgerStorage
from broker.ledger.views import snapshot
from schemas.config import LedgerConfig
from schemas.usage import UsageRecord
from workers.ledger_compaction import compact_partition, dedupe
from workers.usage_sink import decode, split

NOV = 1795000000.0  # 2026-11-25


def record(i: int, team: str = "alpha", feature: str = "f1", **extra: object) -> UsageRecord:
    base = dict(
        job_id=f"job_{i:06d}",
        attempt=1,
        team=team,
        user="u",
        key_id="k",
        feature=feature,
        provider="openai",
        model="gpt-4o-mini",
        state="succeeded",
        input_tokens=100,
        output_tokens=10,
        cost_usd=0.01,
        latency_ms=float(i),
        created_at=NOV,
        finished_at=NOV + i,
    )
    return UsageRecord.model_validate({**base, **extra})


def entries(records: list[UsageRecord], start: int = 1) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return [
        (f"{1795000000000 + start + n}-0".encode(), {b"record": r.model_dump_json().encode()})
        for n, r in enumerate(records)
    ]


def write(storage: LedgerStorage, records: list[UsageRecord], start: int = 1, kind: str = "b") -> list[str]:
    names = []
    for partition, rows in split(decode(entries(records, start)).table).items():
        ids = list(zip(rows.column("stream_ms").to_pylist(), rows.column("stream_seq").to_pylist(), strict=True))
        name = file_name(kind, min(ids), max(ids))
        storage.write_table(partition, name, rows)
        names.append(name)
    return names


def test_file_names_round_trip_and_other_files_are_ignored() -> None:
    name = file_name("b", (1795000000000, 3), (1795000000123, 12))
    assert name == "b_1795000000000-3_1795000000123-12.parquet"
    assert parse_file(name, 7) == LedgerFile("b", (1795000000000, 3), (1795000000123, 12), name, 7)
    assert parse_file(file_name("m", (1, 0), (2, 0))).kind == "m"
    for other in (".b_1-0_2-0.parquet.x.tmp", "b_1-0_2-0.json", "notes.txt", "c_1-0.parquet"):
        assert parse_file(other) is None
    assert parse_partition("/x/month=2026-11/team=search") == Partition("2026-11", "search")
    assert parse_partition("/x/month=2026-11") is None


def f(kind: str, first: int, last: int, size: int = 10) -> LedgerFile:
    return LedgerFile(kind, (first, 0), (last, 0), file_name(kind, (first, 0), (last, 0)), size)


def test_stale_files_are_those_starting_with_a_pending_entry() -> None:
    files = [f("b", 1, 5), f("b", 6, 9), f("c", 10, 20), f("b", 21, 30)]
    stale = stale_batch_files(files, {(6, 0), (7, 0), (21, 0)}, {files[3].name})
    assert stale == [files[1]]  # the file just rewritten under the same name is kept


def test_superseded_inputs_only_once_the_output_exists() -> None:
    inputs = [f("b", 1, 5), f("b", 6, 9)]
    output = f("c", 1, 9)
    manifests = {"m": [output.name, *(i.name for i in inputs)]}
    assert superseded(inputs, manifests) == set()
    assert superseded([*inputs, output], manifests) == {i.name for i in inputs}


def test_compactable_files_are_acknowledged_and_small() -> None:
    files = [f("b", 1, 5), f("c", 6, 9, size=10**9), f("b", 10, 12), f("b", 13, 20), f("m", 1, 2)]
    assert [x.first[0] for x in compactable(files, (13, 0), (20, 0), 10**6)] == [1, 10]
    # nothing pending: everything delivered is acknowledged
    assert [x.first[0] for x in compactable(files, None, (20, 0), 10**6)] == [1, 10, 13]
    # delivered up to 12 only: a file reaching past that may still be in flight
    assert [x.first[0] for x in compactable(files, None, (12, 0), 10**6)] == [1, 10]


def test_decode_sends_bad_entries_to_dead_letters_and_keeps_the_rest() -> None:
    good = entries([record(1), record(2)])
    bad = [(b"1795000000009-0", {b"record": b'{"job_id": "x"}'}), (b"1795000000010-0", {b"other": b"1"})]
    decoded = decode([good[0], *bad, good[1]])
    assert decoded.table.column("job_id").to_pylist() == ["job_000001", "job_000002"]
    assert [e[0] for e in decoded.dead] == [b"1795000000009-0", b"1795000000010-0"]
    assert decoded.table.column("month").to_pylist() == ["2026-11", "2026-11"]


@pytest.fixture
def storage(tmp_path: Path) -> LedgerStorage:
    return LedgerStorage(tmp_path / "ledger")


def test_reports_group_total_and_filter(storage: LedgerStorage) -> None:
    rows = [record(i, team="alpha" if i % 2 else "beta", feature=f"f{i % 3}") for i in range(1, 31)]
    rows.append(record(31, team="beta", state="failed", cost_usd=0, input_tokens=0, output_tokens=0))
    rows.append(record(32, team="alpha", cache_hit=True, cost_usd=0, saved_usd=0.02, routing_saved_usd=0.005))
    rows.append(record(33, team="alpha", finished_at=NOV + 40 * 86400))  # next month
    write(storage, rows[:15])
    write(storage, rows[15:], start=100)
    by_team = spend_report(storage, ["team"], "2026-11")
    assert [(r["team"], r["jobs"], r["failures"], r["cache_hits"]) for r in by_team] == [
        ("alpha", 16, 0, 1),
        ("beta", 16, 1, 0),
    ]
    assert by_team[0]["cost_usd"] == pytest.approx(0.15)
    assert by_team[0]["cache_saved_usd"] == pytest.approx(0.02)
    assert by_team[0]["routing_saved_usd"] == pytest.approx(0.005)
    total = totals(storage, "2026-11")
    assert total["jobs"] == 32 and total["input_tokens"] == 3100 and total["cost_usd"] == pytest.approx(0.30)
    assert total["p50_latency_ms"] == pytest.approx(16.5)
    assert totals(storage)["jobs"] == 33
    three = spend_report(storage, ["team", "feature", "model"], "2026-11")
    assert sum(r["jobs"] for r in three) == 32 and {r["feature"] for r in three} == {"f0", "f1", "f2"}
    assert spend_report(storage, ["team"], "2026-11", team="beta")[0]["team"] == "beta"
    spent = ledger_spend(storage, "2026-11")
    assert spent[("alpha", None)] == pytest.approx(0.15)
    assert sum(v for (t, feat), v in spent.items() if t == "beta" and feat) == pytest.approx(0.15)
    upto = ledger_spend(storage, "2026-11", upto=(1795000000000 + 15, 0))
    assert upto[("alpha", None)] + upto[("beta", None)] == pytest.approx(0.15)


def test_report_errors_name_the_option(storage: LedgerStorage) -> None:
    with pytest.raises(ReportError) as caught:
        spend_report(storage, ["team", "colour"])
    assert caught.value.option == "--by" and "colour" in str(caught.value)
    with pytest.raises(ReportError, match="YYYY-MM"):
        spend_report(storage, ["team"], "2026-13")


def test_an_empty_ledger_reports_zeros(storage: LedgerStorage) -> None:
    assert spend_report(storage, ["team"], "2026-11") == []
    assert totals(storage, "2026-11")["jobs"] == 0


def test_duplicate_batch_rows_count_once_and_superseded_inputs_are_skipped(storage: LedgerStorage) -> None:
    rows = [record(i) for i in range(1, 11)]
    write(storage, rows)
    write(storage, rows[3:6], start=4)  # the same entries written again (a takeover race)
    assert totals(storage)["jobs"] == 10
    partition = storage.partitions()[0]
    inputs = [x.name for x in storage.files(partition)]
    storage.write_json(partition, file_name("m", (1, 0), (9, 0)), {"output": "c_1-0_9-0.parquet", "inputs": inputs})
    assert totals(storage)["jobs"] == 10  # output not there yet: inputs still count
    merged = dedupe(storage.read_table(partition, inputs))
    storage.write_table(partition, "c_1-0_9-0.parquet", merged)  # crash here: inputs left behind
    assert len(snapshot(storage).compacted) == 1 and snapshot(storage).batches == []
    assert totals(storage)["jobs"] == 10


def test_compaction_merges_acknowledged_files_and_finishes_interrupted_ones(storage: LedgerStorage) -> None:
    for n in range(5):
        write(storage, [record(10 * n + i) for i in range(1, 4)], start=10 * n + 1)
    write(storage, [record(21)], start=21)  # a duplicate row across files
    partition = storage.partitions()[0]
    config = LedgerConfig(compact_min_files=3)
    pending_from_41 = ((1795000000000 + 41, 0), (1795000000000 + 60, 0))
    assert compact_partition(storage, partition, pending_from_41, config) == 5
    kinds = [(x.kind, x.first[0] - 1795000000000, x.last[0] - 1795000000000) for x in storage.files(partition)]
    assert kinds == [("c", 1, 33), ("b", 41, 43)]
    assert totals(storage)["jobs"] == 15
    table = storage.read_table(partition, [storage.files(partition)[0].name])
    assert table.num_rows == 12 and table.column("stream_ms").to_pylist() == sorted(
        table.column("stream_ms").to_pylist()
    )


def test_reports_through_the_object_store_code_path(tmp_path: Path) -> None:
    root = tmp_path / "bucket"
    root.mkdir()
    generic = LedgerStorage("ledger", filesystem=pafs.SubTreeFileSystem(str(root), pafs.LocalFileSystem()))
    assert not generic.local
    write(generic, [record(i, team="alpha" if i % 2 else "beta") for i in range(1, 21)])
    write(generic, [record(i, team="alpha") for i in range(21, 25)], start=21)
    assert [r["jobs"] for r in spend_report(generic, ["team"], "2026-11")] == [14, 10]
    partition = generic.partitions()[0]
    assert compact_partition(generic, partition, (None, (1795000000100, 0)), LedgerConfig(compact_min_files=2)) == 2
    assert (root / "ledger" / "month=2026-11").is_dir()
    assert [x.kind for x in generic.files(partition)] == ["c"]
    assert totals(generic)["jobs"] == 24


def test_chargeback_csv_has_a_line_per_feature_and_model_and_a_total(storage: LedgerStorage) -> None:
    write(storage, [record(i, feature=f"f{i % 2}", model="gpt-4o" if i > 5 else "gpt-4o-mini") for i in range(1, 11)])
    lines = chargeback(storage, "2026-11")["alpha"]
    text = chargeback_csv("2026-11", "alpha", lines)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [(r["feature"], r["model"]) for r in parsed[:-1]] == [
        ("f0", "gpt-4o"),
        ("f0", "gpt-4o-mini"),
        ("f1", "gpt-4o"),
        ("f1", "gpt-4o-mini"),
    ]
    assert parsed[-1]["month"] == "TOTAL" and parsed[-1]["jobs"] == "10"
    assert float(parsed[-1]["cost_usd"]) == pytest.approx(0.10)
    assert to_csv([], ["a", "b"]) == "a,b\n"
    json.dumps(lines)  # JSON-serialisable as the CLI prints it


def test_split_keeps_stream_order_per_partition() -> None:
    rows = [record(i, team="alpha" if i % 3 else "beta") for i in range(1, 10)]
    parts = split(decode(entries(rows)).table)
    assert {p.team for p in parts} == {"alpha", "beta"}
    for table in parts.values():
        ms = table.column("stream_ms").to_pylist()
        assert ms == sorted(ms)
    assert isinstance(next(iter(parts.values())), pa.Table)


def test_duplicates_are_counted_over_raw_files_and_old_temporaries_removed(storage: LedgerStorage) -> None:
    import os
    import time

    from broker.ledger.views import duplicates

    rows = [record(i) for i in range(1, 11)]
    write(storage, rows)
    assert duplicates(storage) == (1, 10, 0)
    write(storage, rows[:4], start=1000)  # same jobs, other stream ids
    assert duplicates(storage) == (2, 14, 4)
    partition = storage.partitions()[0]
    folder = Path(storage.path(partition))
    old, fresh = folder / ".b_1-0_2-0.parquet.aa.tmp", folder / ".b_3-0_4-0.parquet.bb.tmp"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert storage.remove_temporaries(partition) == 1
    assert not old.exists() and fresh.exists()
