import datetime as dt

import pytest

from ccm.tenancy import practice_scope
from patients.models import Status
from tests.factories import ConditionFactory, ConsentFactory, PatientFactory
from tests.helpers import frozen_clock
from timelog import services as time_services
from timelog.models import Activity

# Mid-month, after the 10th, in America/New_York (the `practice` fixture's zone).
NOW = dt.datetime(2026, 10, 20, 15, 0, tzinfo=dt.UTC)


frozen = frozen_clock(NOW)


def log_time(practice, actor, patient, start, minutes, activity=Activity.CHART_REVIEW):
    """Minutes logged through the time service (its rules, audit and progress refresh)."""
    return time_services.time_entry_create(
        practice=practice,
        actor=actor,
        patient=patient,
        started_at=start,
        minutes=minutes,
        activity=activity,
    )


def make_enrolled(practice, physician, coordinator, *, mrn="T-1", consent_on=dt.date(2026, 9, 1)):
    """An enrolled patient: two chronic conditions, consent, billing practitioner."""
    patient = PatientFactory(
        practice=practice,
        mrn=mrn,
        first_name="Ada",
        last_name=f"Lovelace-{mrn}",
        status=Status.ENROLLED,
        status_on=consent_on,
        billing_practitioner=physician,
        coordinator=coordinator,
        initiating_visit_on=dt.date(2026, 8, 20),
        initiating_visit_code="99214",
        created_at=dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC),
    )
    ConditionFactory(patient=patient, icd10_code="E11.9", position=0)
    ConditionFactory(patient=patient, icd10_code="I10", description="Hypertension", position=1)
    if consent_on is not None:
        ConsentFactory(patient=patient, obtained_by=coordinator, given_on=consent_on)
    return patient


@pytest.fixture
def enrolled(practice, physician, coordinator):
    return make_enrolled(practice, physician, coordinator)


@pytest.fixture
def scoped(practice):
    with practice_scope(practice):
        yield practice


from tests.timelog.summary_data import daughter, reached, son, spanish_patient  # noqa: E402, F401
