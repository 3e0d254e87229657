"""The shared test helpers report what their threads did: a helper that swallowed an error
would let a concurrency test pass whatever the code under test does."""

import threading

import pytest
from django.core.exceptions import ValidationError

from tests.helpers import APPLIED, at_once, outcomes_at_once, run_in_threads, wait_for


def test_run_in_threads_returns_every_error_raised():
    def fail():
        raise ValueError("boom")

    errors = run_in_threads([fail, lambda: None, fail])
    assert [str(error) for error in errors] == ["boom", "boom"]


def test_at_once_releases_the_threads_together():
    seen = []
    barrier = threading.Barrier(3)  # passes only if all three wait at the same time

    def action():
        seen.append(barrier.wait(timeout=5))

    assert at_once(action, times=3) == []
    assert sorted(seen) == [0, 1, 2]


def test_outcomes_at_once_names_refusals_and_reraises_anything_else():
    calls, lock = [], threading.Lock()

    def apply_once():
        with lock:  # the first caller applies, as a row lock would decide
            calls.append(1)
            first = len(calls) == 1
        if not first:
            raise ValidationError("already applied")

    assert sorted(outcomes_at_once(apply_once)) == sorted([APPLIED, "already applied"])

    def crash():
        raise RuntimeError("not a refusal")

    with pytest.raises(RuntimeError, match="not a refusal"):
        outcomes_at_once(crash)


def test_wait_for_returns_the_value_or_fails_with_the_log():
    answers = iter([None, 0, "ready"])
    assert wait_for("it", lambda: next(answers), within=5, every=0, log=str) == "ready"
    with pytest.raises(pytest.fail.Exception, match="timed out waiting for never; the log"):
        wait_for("never", lambda: None, within=0.05, every=0.01, log=lambda: "the log")
