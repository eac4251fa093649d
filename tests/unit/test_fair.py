"""Fair share across team queues (deficit round robin by tokens), replayed without Redis."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.admission.fair import FairShare


def simulate(fair: FairShare, queues: dict[str, list[float]], rounds: int, per_round_capacity: float) -> list[str]:
    """Each round offers teams in fair order; a shared budget of tokens per round (like a bucket
    refill) limits how much is admitted. Returns the teams of admitted jobs, in order."""
    served: list[str] = []
    for _ in range(rounds):
        room = per_round_capacity
        active = [t for t, q in queues.items() if q]
        for team in fair.order(active):
            queue = queues[team]
            n = fair.affordable(team, queue)
            taken = 0.0
            for cost in queue[:n]:
                if cost > room:
                    break
                room -= cost
                taken += cost
                served.append(team)
                queue.pop(0)
            fair.spend(team, taken)
        fair.forget_idle([t for t, q in queues.items() if q])
    return served


def test_a_single_job_is_not_starved_by_a_backlog() -> None:
    fair = FairShare(quantum=1000, weights={"a": 1, "b": 1})
    queues = {"a": [100.0] * 5000, "b": []}
    simulate(fair, queues, rounds=3, per_round_capacity=500)
    queues["b"].append(100.0)
    served = simulate(fair, queues, rounds=1, per_round_capacity=500)
    assert "b" in served  # the very next refill serves b
    assert len(queues["a"]) > 4000


def test_least_served_goes_first_and_newcomers_start_at_the_clock() -> None:
    fair = FairShare(quantum=10, weights={})
    fair.finish = {"a": 50, "b": 5, "c": 20}
    fair.now = 10
    assert fair.order(["a", "b", "c", "new"]) == ["b", "new", "c", "a"]  # b and new both start at 10


@settings(max_examples=25)
@given(st.floats(0.5, 4), st.floats(0.5, 4))
def test_long_run_shares_follow_weights(wa: float, wb: float) -> None:
    fair = FairShare(quantum=100, weights={"a": wa, "b": wb})
    queues = {"a": [10.0] * 12_000, "b": [10.0] * 12_000}
    served = Counter(simulate(fair, queues, rounds=2000, per_round_capacity=50))  # contended
    assert abs(served["a"] / served["b"] - wa / wb) < 0.05 * (wa / wb) + 0.02


def test_waiting_teams_do_not_bank_credit() -> None:
    fair = FairShare(quantum=100, weights={"a": 1, "b": 1})
    fair.spend("b", 10_000)  # b was served a lot while a idled
    fair.spend("a", 10)
    assert fair.start_tag("a") >= fair.now  # a's idle time earned it nothing to spend later


def test_batches_are_one_quantum_but_at_least_one_job() -> None:
    fair = FairShare(quantum=100, weights={"a": 1, "heavy": 2})
    assert fair.affordable("a", [40, 40, 40]) == 2
    assert fair.affordable("heavy", [40, 40, 40, 40, 40, 40]) == 5
    assert fair.affordable("a", [450.0, 1.0]) == 1
