"""lifeline.logbudget: a few log lines per key and window, the rest counted and said later."""

from __future__ import annotations

from lifeline.logbudget import LogBudget


def test_per_key_budget_and_the_count_left_out() -> None:
    budget = LogBudget(per_window=3, window_s=10.0)
    taken = [budget.take(("s1", "not_number"), t * 0.01) for t in range(1000)]
    assert taken[:3] == [0, 0, 0] and set(taken[3:]) == {None}
    assert budget.take(("s2", "not_number"), 5.0) == 0  # another key, its own budget
    assert budget.take(("s1", "not_number"), 10.0) == 997  # next window: says what it left out
    assert budget.take(("s1", "not_number"), 10.5) == 0


def test_keys_stay_bounded() -> None:
    budget = LogBudget(per_window=1, window_s=60.0, max_keys=8)
    for n in range(100):
        assert budget.take(f"k{n}", float(n)) == 0
    assert len(budget._keys) <= 8
