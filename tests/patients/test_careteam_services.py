"""Care team services: contacts, permissions to share and call windows are validated (every
problem at once, nothing saved), checked for role and practice, audited; `may_share` follows
the permission's dates, scopes and revocation; the call window rules."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from patients import careteam_services as cts
from patients.careteam_selectors import call_window_open, may_share, weekdays_label
from patients.models import CallWindow, CareContact
from tests.factories import CallWindowFactory, CareContactFactory, PatientFactory
from tests.helpers import audited, frozen_clock
from tests.patients.conftest import NOW

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)  # Friday 2026-11-20, 10:00 in New York
TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def contact(patient):
    return CareContactFactory(patient=patient, category="caregiver", relationship="Son", role="")


def test_a_contact_is_validated_field_by_field_and_nothing_saved(practice, coordinator, patient):
    with pytest.raises(ValidationError) as caught:
        cts.contact_create(
            practice=practice,
            actor=coordinator,
            patient=patient,
            category="pharmacy",
            name=" ",
            phone="12",
            is_representative=True,
        )
    errors = caught.value.message_dict
    assert errors["name"] == [cts.NAME_MESSAGE]
    assert errors["is_representative"] == [cts.REPRESENTATIVE_MESSAGE]
    assert "phone" in errors
    assert not CareContact.objects.exists()


def test_a_biller_may_not_add_contacts(practice, biller, patient):
    with pytest.raises(PermissionDenied):
        cts.contact_create(
            practice=practice, actor=biller, patient=patient, category="pharmacy", name="Rx"
        )


def test_another_practices_patient_is_refused(practice, coordinator, other_practice):
    stranger = PatientFactory(practice=other_practice)
    with pytest.raises(ValidationError, match="belong to this practice"):
        cts.contact_create(
            practice=practice, actor=coordinator, patient=stranger, category="pharmacy", name="Rx"
        )


def test_an_update_writes_only_changes_and_audits_their_names(practice, coordinator, contact):
    cts.contact_update(practice=practice, actor=coordinator, contact=contact, data={"note": ""})
    assert not audited("carecontact.update")
    cts.contact_update(
        practice=practice, actor=coordinator, contact=contact, data={"relationship": "Nephew"}
    )
    assert audited("carecontact.update", changed_fields=["relationship"])


def test_may_share_follows_dates_scopes_and_revocation(practice, coordinator, contact):
    permission = cts.permission_create(
        practice=practice,
        actor=coordinator,
        contact=contact,
        scopes=["care_plan", "care_plan"],
        method="written",
        given_on=dt.date(2026, 11, 1),
        expires_on=dt.date(2026, 12, 31),
    )
    assert permission.scopes == ["care_plan"]
    assert may_share(practice=practice, contact=contact, scope="care_plan", on=TODAY)
    assert not may_share(practice=practice, contact=contact, scope="results", on=TODAY)
    assert not may_share(
        practice=practice, contact=contact, scope="care_plan", on=dt.date(2027, 1, 1)
    )
    cts.permission_revoke(practice=practice, actor=coordinator, permission=permission)
    assert not may_share(practice=practice, contact=contact, scope="care_plan", on=TODAY)
    with pytest.raises(ValidationError, match="already revoked"):
        cts.permission_revoke(practice=practice, actor=coordinator, permission=permission)


def test_a_permission_for_an_inactive_contact_or_the_future_is_refused(
    practice, coordinator, contact
):
    with pytest.raises(ValidationError) as caught:
        cts.permission_create(
            practice=practice,
            actor=coordinator,
            contact=contact,
            scopes=["everything"],
            method="fax",
            given_on=dt.date(2026, 12, 1),
        )
    assert set(caught.value.message_dict) == {"scopes", "method", "given_on"}
    cts.contact_set_active(practice=practice, actor=coordinator, contact=contact, active=False)
    with pytest.raises(ValidationError, match="no longer active"):
        cts.permission_create(
            practice=practice, actor=coordinator, contact=contact, scopes=["all"], method="verbal"
        )


def test_another_practices_contact_is_404(practice, coordinator, other_practice):
    stranger = CareContactFactory(patient=PatientFactory(practice=other_practice))
    with pytest.raises(Http404):
        cts.contact_set_active(practice=practice, actor=coordinator, contact=stranger, active=False)


def test_preferences_trim_the_language_and_refuse_a_bad_channel(practice, coordinator, patient):
    with pytest.raises(ValidationError) as caught:
        cts.preferences_update(
            practice=practice,
            actor=coordinator,
            patient=patient,
            data={"preferred_channel": "pigeon", "preferred_language": "x" * 51},
        )
    assert set(caught.value.message_dict) == {"preferred_channel", "preferred_language"}
    cts.preferences_update(
        practice=practice,
        actor=coordinator,
        patient=patient,
        data={"preferred_language": "  Haitian   Creole ", "interpreter_needed": True},
    )
    patient.refresh_from_db()
    assert (patient.preferred_language, patient.interpreter_needed) == ("Haitian Creole", True)
    assert audited("patient.update", patient_id=patient.pk)


def test_a_window_needs_days_and_an_end_after_its_start(practice, coordinator, patient):
    with pytest.raises(ValidationError) as caught:
        cts.call_window_create(
            practice=practice,
            actor=coordinator,
            patient=patient,
            kind="best",
            weekdays=[],
            starts_at=dt.time(12),
            ends_at=dt.time(12),
        )
    assert caught.value.message_dict == {
        "weekdays": [cts.WEEKDAYS_MESSAGE],
        "ends_at": [cts.TIMES_MESSAGE],
    }
    assert not CallWindow.objects.exists()


def test_call_window_open_prefers_do_not_call(patient):
    best = CallWindowFactory(
        patient=patient, weekdays=[4], starts_at=dt.time(9), ends_at=dt.time(12)
    )
    avoid = CallWindowFactory(
        patient=patient,
        kind="do_not_call",
        weekdays=[4],
        starts_at=dt.time(11),
        ends_at=dt.time(12),
    )
    friday = dt.datetime(2026, 11, 20, 10, 0)  # noqa: DTZ001 (a local wall time)
    assert call_window_open([best, avoid], friday)
    assert not call_window_open([best, avoid], friday.replace(hour=11, minute=30))
    assert not call_window_open([best], friday.replace(hour=12))  # the end is excluded
    assert call_window_open([], friday)


def test_weekdays_read_short():
    assert weekdays_label([0, 1, 2, 3, 4]) == "Mon to Fri"
    assert weekdays_label([4, 0, 2]) == "Mon, Wed, Fri"
    assert weekdays_label(range(7)) == "Every day"
