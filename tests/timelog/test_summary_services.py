"""summary_create: a reached contact's plain-language summary, recorded as shared with the
patient or a caregiver the patient permits (only then), in the patient's language; every
refusal saves nothing; audited."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ccm.tenancy import practice_scope
from tests.factories import (
    PatientFactory,
    SummaryAttemptFactory,
    SummaryCaregiverFactory,
    SummaryPermissionFactory,
)
from tests.helpers import audited, frozen_clock
from tests.timelog.conftest import NOW
from tests.timelog.summary_data import GOOD
from timelog import summary_services as ss
from timelog.models import ContactSummary

_frozen = frozen_clock(NOW, autouse=True)


def _create(practice, actor, attempt, **overrides):
    with practice_scope(practice):
        return ss.summary_create(
            practice=practice, actor=actor, attempt=attempt, **{**GOOD, **overrides}
        )


def _refused(practice, actor, attempt, field, message, **overrides):
    with pytest.raises(ValidationError) as caught:
        _create(practice, actor, attempt, **overrides)
    errors = caught.value.message_dict if hasattr(caught.value, "error_dict") else None
    if field is None:
        assert message in caught.value.messages
    else:
        assert errors is not None
        assert message in errors[field]
    assert not ContactSummary.objects.unscoped().exists()


def test_a_summary_given_to_the_patient_in_their_language(practice, coordinator, reached):
    summary = _create(practice, coordinator, reached)
    assert summary.language == "es"
    assert summary.shared_with is None
    assert summary.shared_on == dt.date(2026, 10, 20)
    assert summary.patient_id == reached.patient_id
    assert summary.talked_about == GOOD["talked_about"]
    assert audited("contactsummary.create", patient_id=reached.patient_id, object_id=summary.pk)


def test_an_english_speaking_patients_summary_is_in_english(practice, coordinator, reached):
    reached.patient.preferred_language = "English"
    reached.patient.save(update_fields=["preferred_language"])
    assert _create(practice, coordinator, reached).language == "en"


def test_a_permitted_daughter_may_receive_it(practice, coordinator, reached, daughter):
    summary = _create(practice, coordinator, reached, shared_with=daughter, shared_method="mail")
    assert summary.shared_with == daughter
    assert summary.shared_method == "mail"


def test_a_caregiver_without_permission_may_not(practice, coordinator, reached, son):
    _refused(
        practice, coordinator, reached, "shared_with", ss.NOT_PERMITTED_MESSAGE, shared_with=son
    )


def test_a_permission_for_other_things_is_not_enough(practice, coordinator, reached, son):
    SummaryPermissionFactory(contact=son, scopes=["medications"], recorded_by=coordinator)
    _refused(
        practice, coordinator, reached, "shared_with", ss.NOT_PERMITTED_MESSAGE, shared_with=son
    )


def test_an_expired_or_revoked_permission_is_not_enough(practice, coordinator, reached, son):
    SummaryPermissionFactory(contact=son, expires_on=dt.date(2026, 6, 30), recorded_by=coordinator)
    SummaryPermissionFactory(contact=son, revoked_on=dt.date(2026, 9, 1), recorded_by=coordinator)
    _refused(
        practice, coordinator, reached, "shared_with", ss.NOT_PERMITTED_MESSAGE, shared_with=son
    )


def test_permission_to_share_everything_covers_summaries(practice, coordinator, reached, son):
    SummaryPermissionFactory(contact=son, scopes=["all"], recorded_by=coordinator)
    assert _create(practice, coordinator, reached, shared_with=son).shared_with == son


def test_another_patients_caregiver_is_refused(practice, coordinator, reached):
    stranger = SummaryCaregiverFactory(patient=PatientFactory(practice=practice))
    SummaryPermissionFactory(contact=stranger, recorded_by=coordinator)
    _refused(
        practice, coordinator, reached, "shared_with", ss.CONTACT_MESSAGE, shared_with=stranger
    )


def test_a_pharmacy_is_not_a_recipient(practice, coordinator, reached, spanish_patient):
    pharmacy = SummaryCaregiverFactory(
        patient=spanish_patient, category="pharmacy", name="Main St Rx"
    )
    SummaryPermissionFactory(contact=pharmacy, scopes=["all"], recorded_by=coordinator)
    _refused(
        practice, coordinator, reached, "shared_with", ss.CONTACT_MESSAGE, shared_with=pharmacy
    )


def test_an_unanswered_call_has_no_summary(practice, coordinator, spanish_patient):
    voicemail = SummaryAttemptFactory(
        patient=spanish_patient, outcome="voicemail", recorded_by=coordinator
    )
    _refused(practice, coordinator, voicemail, None, ss.NOT_REACHED_MESSAGE)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("talked_about", "   ", ss.REQUIRED_MESSAGE),
        ("do_now", "", ss.REQUIRED_MESSAGE),
        ("do_now", "x" * 451, ss.TOO_LONG_MESSAGE.format(limit=450)),
        ("whom_to_call", "x" * 251, ss.TOO_LONG_MESSAGE.format(limit=250)),
        ("watch_for", "x\n" * 9, ss.TOO_MANY_LINES_MESSAGE.format(limit=8)),
        ("shared_method", "pigeon", ss.METHOD_MESSAGE),
        ("shared_on", dt.date(2026, 10, 21), ss.FUTURE_MESSAGE),
        ("shared_on", dt.date(2026, 10, 18), ss.BEFORE_CONTACT_MESSAGE.format(day="2026-10-19")),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    practice, coordinator, reached, field, value, message
):
    _refused(practice, coordinator, reached, field, message, **{field: value})


def test_a_biller_may_not_write_one(practice, biller, reached):
    with pytest.raises(PermissionDenied):
        _create(practice, biller, reached)
    assert not ContactSummary.objects.unscoped().exists()


def test_another_practices_contact_is_refused(practice, other_practice, coordinator, reached):
    with pytest.raises(ValidationError, match=ss.ATTEMPT_PRACTICE_MESSAGE):
        _create(other_practice, coordinator, reached)
