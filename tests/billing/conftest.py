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


MEDICARE_PAYER = {"name": "Noridian JE Part B", "payer_id": "01112", "kind": "medicare"}
VALID_SETUP = {
    "submitter_id": "SUB0001",
    "submitter_name": "Sunrise Clinic",
    "contact_name": "Billing Office",
    "contact_phone": "(555) 010-0100",
    "receiver_id": "01112",
    "receiver_name": "Noridian JE Part B",
    "address_line1": "100 Main Street",
    "city": "Springfield",
    "state": "IL",
    "postal_code": "62701-1234",
}


def make_billing_setup(practice, **fields):
    """The practice's billing setup, meeting the contractor front-end rules (submitter id
    not the NPI, ZIP+4 street address), with its Medicare contractor as payer; `fields`
    override. An existing setup (the demo's) is updated with `fields` and kept."""
    from billing.models import BillingSetup
    from patients.models import Payer

    with practice_scope(practice):
        payer, _ = Payer.objects.for_practice(practice).get_or_create(
            practice=practice,
            payer_id=MEDICARE_PAYER["payer_id"],
            kind=MEDICARE_PAYER["kind"],
            defaults={"name": MEDICARE_PAYER["name"]},
        )
        setup = BillingSetup.objects.for_practice(practice).first()
        if setup is None:
            values = {**VALID_SETUP, "medicare_payer": payer, **fields}
            return BillingSetup.objects.for_practice(practice).create(practice=practice, **values)
        BillingSetup.objects.for_practice(practice).filter(pk=setup.pk).update(**fields)
        setup.refresh_from_db()
        return setup


@pytest.fixture
def billing_setup(practice):
    return make_billing_setup(practice)
