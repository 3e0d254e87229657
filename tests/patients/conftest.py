import datetime as dt

import pytest

from ccm.tenancy import practice_scope
from patients import services

# The patients tests' frozen day: late November in New York (after October's close).
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
# A new patient as the page and the API take it (each adds its own contact and conditions).
NEW_PATIENT = {
    "mrn": "N-77",
    "first_name": "Grace",
    "last_name": "Hopper",
    "date_of_birth": "1946-12-09",
    "sex": "female",
}


@pytest.fixture
def patient(practice, physician, coordinator):
    """An eligible candidate: two chronic conditions, a recent qualifying visit."""
    with practice_scope(practice):
        return services.patient_create(
            practice=practice,
            actor=coordinator,
            data={
                "mrn": "A-1001",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "date_of_birth": dt.date(1948, 5, 17),
                "sex": "female",
                "mbi": "1EG4-TE5-MK73",
                "billing_practitioner": physician,
                "coordinator": coordinator,
                "initiating_visit_on": dt.date(2026, 10, 1),
                "initiating_visit_code": "99214",
            },
            condition_codes=["E11.9", "I10"],
        )


CONSENT = {
    "method": "verbal",
    "given_on": dt.date(2026, 11, 2),
    "explained_service": True,
    "explained_cost_sharing": True,
    "explained_one_practitioner": True,
    "explained_can_stop": True,
}
