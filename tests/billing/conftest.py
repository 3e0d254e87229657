"""Billing builders and fixtures the billing tests share."""

import datetime as dt
from unittest import mock

import pytest
import time_machine

from billing.close import tasks
from careplans import services as plan_services
from ccm.tenancy import practice_scope
from tests.careplans.conftest import sign_plan
from tests.timelog.conftest import make_enrolled


def ready_patient(practice, physician, coordinator, mrn):
    """Enrolled on 20 September, with a signed plan whose copy the patient has (R11): the
    month bills once the staff minutes are there."""
    with time_machine.travel(dt.datetime(2026, 9, 20, 15, tzinfo=dt.UTC), tick=False):
        patient = make_enrolled(practice, physician, coordinator, mrn=mrn)
        version = sign_plan(practice, coordinator, physician, patient)
        with practice_scope(practice):
            plan_services.copy_record(
                practice=practice,
                actor=coordinator,
                version=version,
                given_on=dt.date(2026, 9, 20),
                method="in_person",
            )
    return patient


@pytest.fixture
def worker_here():
    """The queued close runs at once in this process (the real-worker close is in
    test_month_close_worker.py); yields the mocked `delay` to inspect what was queued."""

    def run_now(*args):
        return tasks.month_close.apply(args=args)

    with mock.patch.object(tasks.month_close, "delay", side_effect=run_now) as delay:
        yield delay
