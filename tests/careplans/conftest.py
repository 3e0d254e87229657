import datetime as dt

import pytest

from careplans import services
from ccm.tenancy import practice_scope
from patients.models import MedicationReconciliation
from tests.factories import PASSWORD, medicines_reconciled
from tests.timelog.conftest import NOW, frozen, make_enrolled  # noqa: F401 (fixture)

COMPLETE = {
    "expected_outcome": "Blood sugar in range without lows.",
    "prognosis": "Good with steady treatment.",
    "goals": [{"goal": "Lower HbA1c", "target": "Below 7.5%", "measure": "HbA1c every 3 months"}],
    "symptom_management": "Treat readings under 70 with 15 g of sugar.",
    "interventions": [{"intervention": "Monthly call", "responsible": "Care coordinator"}],
    "community_services": "Meals on Wheels referral declined.",
    # The coordination rows come from the chart's care team (careplans.careteam).
    "coordination_notes": "Eye clinic results shared after each visit.",
    "caregiver": "Daughter helps with medicines.",
    "preferences": "Prefers calls after 10 am.",
    "barriers": "No car.",
    "review_schedule": "Every 12 months and after any hospital stay.",
}


@pytest.fixture
def scoped(practice):
    with practice_scope(practice):
        yield practice


@pytest.fixture
def patient(practice, physician, coordinator):
    """Enrolled, with a reconciled medication list (the plan's medication section)."""
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        medicines_reconciled(patient, coordinator)
        return patient


@pytest.fixture
def draft(practice, coordinator, patient):
    with practice_scope(practice):
        return services.draft_start(practice=practice, actor=coordinator, patient=patient)


@pytest.fixture
def complete_draft(practice, coordinator, draft):
    with practice_scope(practice):
        return services.draft_update(
            practice=practice, actor=coordinator, version=draft, data=COMPLETE
        )


@pytest.fixture
def signed(practice, physician, complete_draft):
    with practice_scope(practice):
        return services.version_sign(
            practice=practice, actor=physician, version=complete_draft, password=PASSWORD
        )


TODAY = NOW.date()
ONE_DAY = dt.timedelta(days=1)


def sign_plan(practice, coordinator, physician, patient):
    """A complete, signed care plan for the patient (through the services)."""
    with practice_scope(practice):
        if not MedicationReconciliation.objects.filter(patient=patient).exists():
            medicines_reconciled(patient, coordinator)
        draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
        services.draft_update(practice=practice, actor=coordinator, version=draft, data=COMPLETE)
        return services.version_sign(
            practice=practice, actor=physician, version=draft, password=PASSWORD
        )


# --- trans


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded documents go to a temporary folder, not the developer's media folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/no-public-url/"},
        },
    }
    return tmp_path
