"""Recording care transitions (careplans.transition_services): what is saved, the plan's
review, the refusals (each saving nothing, no file either), roles, duplicates and audit."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from careplans import transition_services as ts
from careplans.models import CarePlan, CareTransition
from tests.careplans.conftest import TODAY
from tests.careplans.transition_data import PDF, fake_pdf, pdf, specialist
from tests.factories import PatientFactory
from tests.helpers import audited
from timelog.models import Task

pytestmark = pytest.mark.usefixtures("frozen", "scoped", "media")


def record(practice, actor, patient, **overrides):
    data = {
        "kind": "hospital_discharge",
        "occurred_on": TODAY - dt.timedelta(days=3),
        "admitted_on": TODAY - dt.timedelta(days=7),
        "facility": "Mercy General Hospital",
        "diagnoses": "CHF exacerbation",
        "note": "Furosemide increased to 40 mg.",
        **overrides,
    }
    return ts.transition_record(practice=practice, actor=actor, patient=patient, **data)


def test_a_discharge_is_recorded_with_its_summary(practice, coordinator, patient, media):
    transition = record(practice, coordinator, patient, document=pdf())
    saved = CareTransition.objects.get()
    assert saved == transition
    assert (saved.kind, saved.facility, saved.diagnoses) == (
        "hospital_discharge", "Mercy General Hospital", "CHF exacerbation",
    )  # fmt: skip
    assert saved.admitted_on == TODAY - dt.timedelta(days=7)
    assert saved.document_type == "application/pdf"
    # Stored under the practice's and the transition's UUIDs, never the uploaded name.
    assert saved.document.name == f"transitions/{practice.pk}/{saved.pk}.pdf"
    assert (media / saved.document.name).read_bytes() == PDF
    assert audited("caretransition.create", object_id=str(saved.pk))


def test_a_discharge_brings_the_review_forward(practice, coordinator, signed, patient):
    record(practice, coordinator, patient)
    plan = CarePlan.objects.get()
    assert plan.next_review_on == TODAY + dt.timedelta(days=11)
    assert plan.review_reason == f"Hospital discharge on {TODAY - dt.timedelta(days=3)}"


def test_a_specialist_visit_leaves_the_review_date(practice, coordinator, signed, patient):
    before = CarePlan.objects.get().next_review_on
    hart = specialist(patient)
    visit = record(
        practice, coordinator, patient, kind="specialist_visit", admitted_on=None,
        facility="Heart Clinic", contact=hart,
    )  # fmt: skip
    assert visit.contact == hart
    assert CarePlan.objects.get().next_review_on == before


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"occurred_on": TODAY + dt.timedelta(days=1)}, "occurred_on", ts.FUTURE_MESSAGE),
        ({"admitted_on": TODAY - dt.timedelta(days=1)}, "admitted_on", ts.ADMITTED_AFTER_MESSAGE),
        (
            {"kind": "specialist_visit", "admitted_on": TODAY - dt.timedelta(days=9)},
            "admitted_on",
            ts.ADMITTED_KIND_MESSAGE,
        ),
        ({"kind": "home_visit"}, "kind", ts.KIND_MESSAGE),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(
    practice, coordinator, patient, overrides, field, message
):
    with pytest.raises(ValidationError) as refused:
        record(practice, coordinator, patient, **overrides)
    assert refused.value.message_dict[field] == [message]
    assert not CareTransition.objects.exists()
    assert not Task.objects.exists()


def test_a_contact_of_another_patient_is_refused(practice, coordinator, patient):
    other = PatientFactory(practice=practice)
    with pytest.raises(ValidationError) as refused:
        record(practice, coordinator, patient, contact=specialist(other))
    assert refused.value.message_dict["contact"] == [ts.CONTACT_MESSAGE]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (fake_pdf, ts.DOCUMENT_TYPE_MESSAGE),
        (lambda: SimpleUploadedFile("x.pdf", b"", "application/pdf"), ts.DOCUMENT_EMPTY_MESSAGE),
        (
            lambda: SimpleUploadedFile("big.pdf", PDF + b"0" * ts.DOCUMENT_MAX_BYTES),
            ts.DOCUMENT_SIZE_MESSAGE,
        ),
    ],
)
def test_a_bad_document_is_refused_and_nothing_is_saved(
    practice, coordinator, patient, media, upload, message
):
    with pytest.raises(ValidationError) as refused:
        record(practice, coordinator, patient, document=upload())
    assert refused.value.message_dict["document"] == [message]
    assert not CareTransition.objects.exists()
    assert not Task.objects.exists()
    assert not any(media.rglob("*.*"))


def test_recording_the_same_transition_twice_adds_nothing(practice, coordinator, patient):
    record(practice, coordinator, patient)
    with pytest.raises(ValidationError) as refused:
        record(practice, coordinator, patient, facility="mercy general hospital ")
    assert refused.value.messages == [ts.DUPLICATE_MESSAGE]
    assert CareTransition.objects.count() == 1
    assert Task.objects.count() == 2


def test_a_biller_may_not_record(practice, biller, patient):
    with pytest.raises(PermissionDenied):
        record(practice, biller, patient)
    assert not CareTransition.objects.exists()


def test_a_patient_of_another_practice_is_refused(practice, coordinator, other_practice):
    stranger = PatientFactory(practice=other_practice)
    with pytest.raises(ValidationError):
        record(practice, coordinator, stranger)


def test_a_document_is_attached_later_and_replaced(practice, coordinator, patient, media):
    transition = record(practice, coordinator, patient)
    ts.transition_document_attach(
        practice=practice, actor=coordinator, transition=transition, document=pdf()
    )
    png = SimpleUploadedFile("scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    ts.transition_document_attach(
        practice=practice, actor=coordinator, transition=transition, document=png
    )
    transition.refresh_from_db()
    assert transition.document_type == "image/png"
    assert transition.document.name.endswith(".png")
    assert audited("caretransition.update", object_id=str(transition.pk))


def test_a_failing_follow_up_records_nothing_and_keeps_no_file(
    practice, coordinator, patient, media
):
    from careplans.hooks import transition_recorded

    def broken(practice, actor, transition):
        raise RuntimeError("follow-up failed")

    transition_recorded.register(broken)
    try:
        with pytest.raises(RuntimeError):
            record(practice, coordinator, patient, document=pdf())
    finally:
        transition_recorded._registered.remove(broken)
    assert not CareTransition.objects.exists()
    assert not any(media.rglob("*.pdf"))
