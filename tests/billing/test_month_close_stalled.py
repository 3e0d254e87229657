"""A stalled month close (its whole worker killed) is resumed without a person: every batch
beats `MonthClose.heartbeat_at`; the periodic `month_close_resume_stalled` re-queues a running
close whose heartbeat is older than MONTH_CLOSE_STALE_AFTER, once, however many beats run;
the progress page says it is stalled and resuming. The real-worker kill is in
test_month_close_worker.py."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.conf import settings

from billing.close import services, tasks
from billing.models import CloseStatus, MonthClose
from ccm.celery import BEAT_SCHEDULE
from tests.billing.test_month_close import AFTER, OCTOBER, _cast, _snapshot
from tests.billing.test_month_close_worker import _reset
from tests.helpers import frozen_clock

STALE = settings.MONTH_CLOSE_STALE_AFTER
SECOND = dt.timedelta(seconds=1)


_at_after = frozen_clock(AFTER, autouse=True)


@pytest.fixture
def queued():
    """month_close jobs sent to the broker (mocked: it leaves the process)."""
    with mock.patch.object(tasks.month_close, "delay") as delay:
        yield delay


def _running(practice, *, beat_ago, status=CloseStatus.RUNNING, **fields):
    return MonthClose.objects.for_practice(practice).create(
        practice=practice,
        month=OCTOBER,
        status=status,
        patients_total=1496,
        patients_done=500,
        heartbeat_at=AFTER - beat_ago,
        **fields,
    )


def _resume(capture):
    with capture(execute=True):
        return services.month_close_resume_stalled()


def test_a_stale_heartbeat_is_requeued_once(
    practice, biller, queued, django_capture_on_commit_callbacks
):
    close = _running(practice, beat_ago=STALE + SECOND, started_by=biller, times_closed=2)
    assert _resume(django_capture_on_commit_callbacks) == 1
    # Ids only: practice, month, the member who started it, the stored confirmation, and the
    # generation, so the job is a no-op if the month is closed (and reopened) meanwhile.
    queued.assert_called_once_with(str(practice.pk), "2026-10", str(biller.pk), False, 2)
    close.refresh_from_db()
    assert close.resumed_at == AFTER
    assert _resume(django_capture_on_commit_callbacks) == 0  # the next beat
    assert queued.call_count == 1


def test_two_beats_at_once_queue_the_close_once(
    practice, queued, django_capture_on_commit_callbacks
):
    _running(practice, beat_ago=STALE + SECOND)
    found = services._stalled

    def other_beat_runs_in_between(stale):
        rows = found(stale)
        with mock.patch.object(services, "_stalled", found):
            assert services.month_close_resume_stalled() == 1  # the other beat, all of it
        return rows

    with mock.patch.object(services, "_stalled", other_beat_runs_in_between):
        assert _resume(django_capture_on_commit_callbacks) == 0  # its UPDATE changed nothing
    assert queued.call_count == 1


def test_a_fresh_heartbeat_is_not_requeued(practice, queued, django_capture_on_commit_callbacks):
    close = _running(practice, beat_ago=STALE - SECOND)
    assert _resume(django_capture_on_commit_callbacks) == 0
    queued.assert_not_called()
    close.refresh_from_db()
    assert close.resumed_at is None


@pytest.mark.parametrize("status", [CloseStatus.CLOSED, CloseStatus.REOPENED])
def test_a_finished_close_is_never_requeued(
    practice, queued, django_capture_on_commit_callbacks, status
):
    _running(practice, beat_ago=dt.timedelta(days=30), status=status)
    assert _resume(django_capture_on_commit_callbacks) == 0
    queued.assert_not_called()


def test_a_close_still_stalled_after_a_resume_is_requeued_again_a_threshold_later(
    practice, queued, django_capture_on_commit_callbacks
):
    _running(practice, beat_ago=STALE + SECOND, resumed_at=AFTER - STALE + SECOND)
    assert _resume(django_capture_on_commit_callbacks) == 0  # resumed moments ago
    with time_machine.travel(AFTER + 2 * SECOND, tick=False):
        assert _resume(django_capture_on_commit_callbacks) == 1  # that job did not help
    assert queued.call_count == 1


def test_the_requeued_job_finishes_the_close_with_the_same_claims(
    practice, physician, coordinator, django_capture_on_commit_callbacks
):
    _cast(practice, physician, coordinator)
    services.month_close(practice_id=practice.pk, month=OCTOBER)
    expected = _snapshot(practice)
    _reset(practice, OCTOBER)
    with (
        mock.patch.object(services, "BATCH", 2),
        mock.patch.object(services, "_finish", side_effect=SystemExit),  # killed before it
        pytest.raises(SystemExit),
    ):
        services.month_close(practice_id=practice.pk, month=OCTOBER)
    with (
        time_machine.travel(AFTER + STALE + SECOND, tick=False),
        mock.patch.object(tasks.month_close, "delay") as delay,
    ):
        assert _resume(django_capture_on_commit_callbacks) == 1
    tasks.month_close.apply(args=delay.call_args.args)
    close = MonthClose.objects.unscoped().get()
    assert close.status == CloseStatus.CLOSED
    assert close.times_closed == 1
    assert _snapshot(practice) == expected


def test_every_batch_beats_the_heartbeat(practice, physician, coordinator):
    _cast(practice, physician, coordinator)
    beats = []
    batch = services._close_batch

    def batch_at_a_later_second(*args):
        with time_machine.travel(AFTER + (len(beats) + 1) * SECOND, tick=False):
            done = batch(*args)
        beats.append(MonthClose.objects.unscoped().get().heartbeat_at)
        return done

    with (
        mock.patch.object(services, "BATCH", 2),
        mock.patch.object(services, "_close_batch", batch_at_a_later_second),
    ):
        services.month_close(practice_id=practice.pk, month=OCTOBER)
    # Two batches of two patients, then the one that finds nothing left (no write).
    assert beats == [AFTER + SECOND, AFTER + 2 * SECOND, AFTER + 2 * SECOND]


def test_the_progress_page_says_stalled_and_resuming(biller_client, practice):
    close = _running(practice, beat_ago=STALE - SECOND)
    fragment = biller_client.get("/billing/months/2026-10/progress/").content.decode()
    assert "stalled" not in fragment
    assert "500 of 1496" in fragment
    close.heartbeat_at = AFTER - STALE - SECOND
    close.save()
    fragment = biller_client.get("/billing/months/2026-10/progress/").content.decode()
    assert "stalled, resuming automatically" in fragment
    assert "No progress since" in fragment
    assert "500 of 1496" in fragment
    assert 'hx-trigger="every 2s"' in fragment  # still polling: it moves again once resumed
    detail = biller_client.get("/billing/months/2026-10/").content.decode()
    assert "stalled, resuming automatically" in detail


def test_the_month_api_says_stalled_too(practice, biller):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(biller.user)
    close = _running(practice, beat_ago=STALE - SECOND)
    assert api.get("/api/v1/billing/months/2026-10/").json()["stalled"] is False
    close.heartbeat_at = AFTER - STALE - SECOND
    close.save()
    assert api.get("/api/v1/billing/months/2026-10/").json()["stalled"] is True


def test_the_beat_resumes_stalled_closes_well_within_the_threshold():
    entry = BEAT_SCHEDULE["month-close-resume"]
    assert entry["task"] == tasks.month_close_resume_stalled.name
    assert entry["schedule"] <= STALE / 2  # a dead close resumed within 1.5 thresholds
    assert dt.timedelta(seconds=entry["options"]["expire_seconds"]) < entry["schedule"]
