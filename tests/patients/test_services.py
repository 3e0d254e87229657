import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from patients import services
from patients.models import Condition, Consent, EnrollmentEvent, Patient, Status
from tests.factories import MembershipFactory
from tests.helpers import frozen_clock
from tests.patients.conftest import CONSENT, NOW

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)


def _consent(practice, actor, patient, **overrides):
    return services.consent_record(
        practice=practice, actor=actor, patient=patient, **{**CONSENT, **overrides}
    )


def test_creating_a_patient_makes_a_candidate_with_described_conditions(patient):
    assert patient.status == Status.CANDIDATE
    assert patient.mbi == "1EG4TE5MK73"
    codes = [(c.icd10_code, c.description) for c in patient.conditions.all()]
    assert codes == [
        ("E11.9", "Type 2 diabetes mellitus without complications"),
        ("I10", "Essential (primary) hypertension"),
    ]
    assert AuditEvent.objects.filter(action="patient.create", patient_id=patient.pk).exists()


def _create(practice, actor, mrn, condition_codes=None, **fields):
    """A patient with the required fields (and `fields`), through the service."""
    data = {"first_name": "B", "last_name": "C", "date_of_birth": dt.date(1950, 1, 1), **fields}
    return services.patient_create(
        practice=practice, actor=actor, data={"mrn": mrn, **data}, condition_codes=condition_codes
    )


def test_duplicate_mrn_is_refused_in_one_practice(practice, coordinator, patient):
    with pytest.raises(ValidationError) as exc:
        _create(practice, coordinator, "A-1001")
    assert exc.value.message_dict == {"mrn": [services.DUPLICATE_MRN_MESSAGE]}


def test_same_mrn_is_allowed_in_another_practice(patient, outsider):
    with practice_scope(outsider.practice):
        other = _create(outsider.practice, outsider, "A-1001")
    assert other.mrn == patient.mrn


def test_future_date_of_birth_is_refused_and_nothing_saved(practice, coordinator):
    with pytest.raises(ValidationError) as exc:
        _create(practice, coordinator, "F-1", date_of_birth=dt.date(2026, 12, 1))
    assert exc.value.message_dict == {"date_of_birth": [services.FUTURE_DOB_MESSAGE]}
    assert not Patient.objects.filter(mrn="F-1").exists()


def test_a_bad_condition_code_rolls_back_the_whole_patient(practice, coordinator):
    with pytest.raises(ValidationError):
        _create(practice, coordinator, "G-1", condition_codes=["E11.9", "NOPE"])
    assert not Patient.objects.filter(mrn="G-1").exists()


def test_billing_practitioner_must_be_a_physician_of_the_practice(practice, coordinator, outsider):
    data = {"mrn": "H-1", "first_name": "B", "last_name": "C",
            "date_of_birth": dt.date(1950, 1, 1)}  # fmt: skip
    for wrong in (coordinator, outsider):
        with pytest.raises(ValidationError) as exc:
            services.patient_create(
                practice=practice,
                actor=coordinator,
                data={**data, "billing_practitioner": wrong},
            )
        assert exc.value.message_dict == {
            "billing_practitioner": [services.NOT_A_PHYSICIAN_MESSAGE]
        }


def test_biller_may_change_demographics_but_not_clinical_fields(practice, biller, patient):
    services.patient_update(
        practice=practice, actor=biller, patient=patient, data={"phone": "+15185550111"}
    )
    with pytest.raises(PermissionDenied):
        services.patient_update(
            practice=practice, actor=biller, patient=patient, data={"notes": "x"}
        )
    with pytest.raises(PermissionDenied):
        services.condition_add(practice=practice, actor=biller, patient=patient, icd10_code="J44.9")


def test_update_audits_field_names_not_values(practice, coordinator, patient):
    services.patient_update(
        practice=practice, actor=coordinator, patient=patient, data={"last_name": "Byron"}
    )
    event = AuditEvent.objects.get(action="patient.update")
    assert event.changed_fields == ["last_name"]
    assert event.patient_id == patient.pk


def test_consent_requires_every_r6_item(practice, coordinator, patient):
    with pytest.raises(ValidationError) as exc:
        _consent(practice, coordinator, patient, explained_cost_sharing=False)
    assert exc.value.message_dict == {"explained_cost_sharing": [services.CONSENT_ITEMS_MESSAGE]}
    assert not Consent.objects.exists()


def test_consent_cannot_be_in_the_future_or_before_birth(practice, coordinator, patient):
    with pytest.raises(ValidationError, match="future"):
        _consent(practice, coordinator, patient, given_on=dt.date(2026, 11, 21))
    with pytest.raises(ValidationError, match="before the patient"):
        _consent(practice, coordinator, patient, given_on=dt.date(1940, 1, 1))


def test_signed_form_type_is_sniffed_from_the_bytes(practice, coordinator, patient):
    fake_pdf = SimpleUploadedFile("form.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    with pytest.raises(ValidationError, match="PDF, PNG or JPEG"):
        _consent(practice, coordinator, patient, signed_form=fake_pdf)
    real = SimpleUploadedFile("anything.txt", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "text/plain")
    consent = _consent(practice, coordinator, patient, signed_form=real)
    assert consent.signed_form_type == "application/pdf"
    assert consent.signed_form.name == f"consent-forms/{practice.pk}/{consent.pk}.pdf"


def test_signed_form_over_the_size_limit_is_refused(practice, coordinator, patient, settings):
    settings.CONSENT_FORM_MAX_BYTES = 10
    big = SimpleUploadedFile("f.pdf", b"%PDF-1.4" + b"0" * 20, "application/pdf")
    with pytest.raises(ValidationError, match="5 MB"):
        _consent(practice, coordinator, patient, signed_form=big)


def test_enrolling_needs_consent_then_succeeds_and_is_audited(practice, coordinator, patient):
    with pytest.raises(ValidationError, match="consent"):
        services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    _consent(practice, coordinator, patient)
    enrolled = services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    assert enrolled.status == Status.ENROLLED
    assert enrolled.status_on == dt.date(2026, 11, 20)
    assert EnrollmentEvent.objects.get().to_status == Status.ENROLLED
    assert AuditEvent.objects.filter(action="patient.enrollment.enrolled").count() == 1


def test_enrolling_an_ineligible_patient_names_the_rules(practice, coordinator, patient):
    condition = patient.conditions.get(icd10_code="I10")
    services.condition_resolve(
        practice=practice, actor=coordinator, condition=condition, resolved_on=dt.date(2026, 11, 1)
    )
    _consent(practice, coordinator, patient)
    fresh = Patient.objects.get(pk=patient.pk)
    with pytest.raises(ValidationError, match="R4: 1 chronic condition"):
        services.patient_enroll(practice=practice, actor=coordinator, patient=fresh)


def test_revocation_disenrolls_effective_at_month_end(practice, coordinator, patient):
    consent = _consent(practice, coordinator, patient)
    services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    services.consent_revoke(
        practice=practice, actor=coordinator, consent=consent, revoked_on=dt.date(2026, 11, 14)
    )
    consent.refresh_from_db()
    assert consent.revocation_effective_on == dt.date(2026, 11, 30)  # R7
    patient.refresh_from_db()
    assert patient.status == Status.DISENROLLED
    assert patient.status_on == dt.date(2026, 11, 30)
    with pytest.raises(ValidationError, match="already revoked"):
        services.consent_revoke(
            practice=practice, actor=coordinator, consent=consent, revoked_on=dt.date(2026, 11, 15)
        )


def test_declined_patient_needs_new_consent_to_re_enroll(practice, coordinator, patient):
    old = _consent(practice, coordinator, patient, given_on=dt.date(2026, 11, 1))
    services.patient_decline(practice=practice, actor=coordinator, patient=patient, reason="busy")
    old.refresh_from_db()
    assert old.revoked_on == dt.date(2026, 11, 20)
    with pytest.raises(ValidationError, match="Record the patient's consent"):
        services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    _consent(practice, coordinator, patient, given_on=dt.date(2026, 11, 20))
    enrolled = services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    assert enrolled.status == Status.ENROLLED


def test_only_enrolled_patients_can_be_disenrolled(practice, coordinator, patient):
    with pytest.raises(ValidationError, match="Only an enrolled"):
        services.patient_disenroll(
            practice=practice, actor=coordinator, patient=patient, reason="Moved away"
        )


@pytest.mark.parametrize("reason", ["", "  \n "])
def test_disenrolling_needs_a_reason_and_saves_nothing_without_one(
    practice, coordinator, patient, reason
):
    consent = _consent(practice, coordinator, patient)
    services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    with pytest.raises(ValidationError) as raised:
        services.patient_disenroll(
            practice=practice, actor=coordinator, patient=patient, reason=reason
        )
    assert raised.value.message_dict == {"reason": [services.DISENROLL_REASON_MESSAGE]}
    patient.refresh_from_db()
    consent.refresh_from_db()
    assert patient.status == Status.ENROLLED
    assert consent.revoked_on is None
    assert not EnrollmentEvent.objects.filter(to_status=Status.DISENROLLED).exists()


def test_conditions_sync_adds_and_resolves(practice, coordinator, patient):
    services.conditions_sync(
        practice=practice, actor=coordinator, patient=patient, codes=["I10", "J44.9"]
    )
    states = {c.icd10_code: c.status for c in Condition.objects.filter(patient=patient)}
    assert states == {"E11.9": "resolved", "I10": "active", "J44.9": "active"}


def test_a_member_of_another_practice_cannot_be_linked(practice, coordinator, other_practice):
    stranger = MembershipFactory(practice=other_practice, role="coordinator")
    with pytest.raises(ValidationError) as exc:
        _create(practice, coordinator, "K-1", coordinator=stranger)
    assert "coordinator" in exc.value.message_dict


def test_seed_patients_is_idempotent_and_keeps_practices_apart(practice, physician, coordinator):
    from patients.demo import Staff, seed_patients

    staff = Staff(physician=physician, coordinators=(coordinator,))
    assert (
        seed_patients(practice=practice, staff=staff, count=30, today=dt.date(2026, 11, 20)) == 30
    )
    assert seed_patients(practice=practice, staff=staff, count=30, today=dt.date(2026, 11, 20)) == 0
    statuses = set(Patient.objects.values_list("status", flat=True))
    assert Status.ENROLLED in statuses
    for p in Patient.objects.filter(status=Status.ENROLLED).prefetch_related("conditions"):
        assert services.patient_eligibility(p).eligible, p.mrn
