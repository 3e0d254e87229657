"""Submission batches: a batch stores the 837P it hands out (the same bytes at every
download) and moves its claims to submitted; a claim is in at most one live batch, also
under concurrent creations; export.837 is the month's batch; the contractor front-end
rules and pyx12 refuse with what to fix and nothing stored; MA, MSP and secondary coverage,
organisation and individual billing providers; resubmitted, corrected (7) and void (8)
claims in batches of their own; pages and API (roles, outsiders, bad input, audit)."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.claims.services import claims_status_set
from billing.close import services as close_services
from billing.exports import x12
from billing.models import (
    BatchClaim,
    BillingSetup,
    Claim,
    ClaimLine,
    Export,
    SubmissionBatch,
    UsualCharge,
)
from billing.setup import rules as setup_rules
from billing.submissions import services
from ccm.api_auth import StateConflict
from ccm.models import AuditEvent
from patients.models import Patient
from tests.billing.conftest import make_billing_setup
from tests.billing.test_exports import closed  # noqa: F401 (fixture)
from tests.billing.test_month_close import AFTER, OCTOBER
from tests.factories import CoverageFactory, PatientFactory, PayerFactory, staff_time
from tests.helpers import at_once, audited, token_client

MONTH_URL = "/billing/months/2026-10/"
API_BATCHES = "/api/v1/billing/months/2026-10/batches/"


@pytest.fixture(autouse=True)
def _later():
    with time_machine.travel(AFTER, tick=False):
        yield


def _segments(document):
    return [segment.split("*") for segment in document[:-1].split("~")]


def _claims(practice):
    return list(Claim.objects.for_practice(practice).order_by("created_at", "id"))


def _nothing_sent(practice):
    assert not SubmissionBatch.objects.unscoped().exists()
    assert not BatchClaim.objects.unscoped().exists()
    assert {c.status for c in _claims(practice)} == {"ready"}
    assert not Claim.objects.unscoped().filter(exported_at__isnull=False).exists()
    assert not audited("submissionbatch.create")
    assert not audited("claim.export")


# --- creating a batch ---------------------------------------------------------------------


@pytest.mark.usefixtures("closed")
def test_a_batch_carries_the_months_ready_claims_and_marks_them_submitted(practice, biller):
    UsualCharge.objects.for_practice(practice).create(
        practice=practice, code="99490", amount="90.00"
    )
    batch = services.batch_create(actor=biller, month=OCTOBER)
    assert (batch.control_number, batch.claims, batch.month) == (1, 2, OCTOBER)
    assert batch.total_charge == Decimal("180.00")  # the usual charges, not the fee schedule
    assert batch.sha256 == hashlib.sha256(batch.content.encode()).hexdigest()
    assert x12.validate_837(batch.content) == []
    assert batch.content.count("~CLM*") == 2
    for claim in _claims(practice):
        assert claim.status == "submitted"
        assert claim.submitted_at == claim.exported_at == timezone.now()
        assert claim.billed_amount == Decimal("90.00")
        entry = BatchClaim.objects.for_practice(practice).get(claim=claim)
        assert (entry.batch, entry.frequency, entry.live, entry.charge) == (
            batch, "1", True, Decimal("90.00"),
        )  # fmt: skip
        assert f"CLM*{claim.control_number}*90*" in batch.content
    assert audited("submissionbatch.create", object_id=str(batch.pk))
    exported = AuditEvent.objects.unscoped().get(action="claim.export")  # one, naming all
    named = {exported.patient_id, *exported.patient_ids} - {None}
    assert named == {c.patient_id for c in _claims(practice)}


@pytest.mark.usefixtures("closed")
def test_a_claim_is_never_in_two_live_batches(practice, biller):
    services.batch_create(actor=biller, month=OCTOBER)
    with pytest.raises(StateConflict, match="no claim ready to send"):
        services.batch_create(actor=biller, month=OCTOBER)
    # Marked ready again by hand, it is still in its live batch: not sent twice.
    first = _claims(practice)[0]
    claims_status_set(practice=practice, actor=biller, claim_ids=[first.pk], status="ready")
    with pytest.raises(StateConflict, match="no claim ready to send"):
        services.batch_create(actor=biller, month=OCTOBER)
    with pytest.raises(StateConflict, match="1 of the chosen claims cannot go"):
        services.batch_create(actor=biller, month=OCTOBER, claim_ids=[first.pk])
    assert SubmissionBatch.objects.for_practice(practice).count() == 1
    # The database refuses a second live entry whatever the code does.
    other = SubmissionBatch.objects.for_practice(practice).create(
        practice=practice, control_number=99, usage="P", content="x", sha256="x", created_by=biller
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchClaim.objects.for_practice(practice).create(
            practice=practice, batch=other, claim=first, charge=1
        )


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batch_creations_send_each_claim_once(practice, biller, closed):  # noqa: F811
    refused = []

    def create():
        try:
            services.batch_create(actor=biller, month=OCTOBER)
        except StateConflict as exc:
            refused.append(exc.message)

    assert at_once(create) == []
    assert len(refused) == 1
    assert "no claim ready to send" in refused[0]
    assert SubmissionBatch.objects.for_practice(practice).count() == 1
    assert BatchClaim.objects.for_practice(practice).filter(live=True).count() == 2


@pytest.mark.usefixtures("closed")
def test_chosen_claims_go_in_a_batch_of_their_own(practice, biller):
    first, second = _claims(practice)
    batch = services.batch_create(actor=biller, month=OCTOBER, claim_ids=[second.pk])
    assert batch.claims == 1
    assert f"CLM*{second.control_number}*" in batch.content
    assert f"CLM*{first.control_number}*" not in batch.content
    rest = services.batch_create(actor=biller, month=OCTOBER)
    assert (rest.control_number, rest.claims) == (2, 1)
    with pytest.raises(ValidationError):
        services.batch_create(actor=biller, month=OCTOBER, claim_ids=[])


@pytest.mark.usefixtures("closed")
def test_control_numbers_continue_after_the_837_downloads_before_batches(practice, biller):
    Export.objects.for_practice(practice).create(
        practice=practice, month=OCTOBER, kind="837", control_number=41, created_by=biller
    )
    batch = services.batch_create(actor=biller, month=OCTOBER)
    assert batch.control_number == 42
    assert _segments(batch.content)[0][13] == "000000042"


def test_an_open_month_sends_nothing(practice, biller):
    with pytest.raises(services.MonthState, match="close 2026-10 first"):
        services.batch_create(actor=biller, month=OCTOBER)


# --- the contractor's front-end rules and pyx12 --------------------------------------------


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"postal_code": "62701"}, setup_rules.ZIP4_MESSAGE),
        ({"address_line1": "PO Box 120"}, setup_rules.PO_BOX_MESSAGE),
        ({"submitter_id": "billing_npi"}, setup_rules.SUBMITTER_MESSAGE),
        ({"medicare_payer": None}, "2 claim(s) go to Medicare Part B"),
        (None, x12.NO_SETUP_MESSAGE),
    ],
)
@pytest.mark.usefixtures("closed")
def test_what_a_contractor_rejects_is_refused_with_the_fix_and_nothing_stored(
    practice, biller, biller_client, setup, message
):
    if setup is None:
        BillingSetup.objects.for_practice(practice).delete()
    else:
        values = {k: practice.billing_npi if v == "billing_npi" else v for k, v in setup.items()}
        BillingSetup.objects.for_practice(practice).update(**values)
    page = biller_client.post(f"{MONTH_URL}batches/", follow=True)
    assert page.redirect_chain[-1][0] == MONTH_URL
    assert message in page.content.decode().replace("&#x27;", "'")
    answer = token_client(biller).post(API_BATCHES, {}, format="json")
    assert answer.status_code == 409
    assert message in answer.json()["detail"]
    _nothing_sent(practice)


@pytest.mark.usefixtures("closed")
def test_a_patient_without_mbi_or_address_is_named_without_patient_data(practice, biller):
    patient = _claims(practice)[0].patient
    Patient.objects.for_practice(practice).filter(pk=patient.pk).update(mbi="", address_line1="")
    with pytest.raises(StateConflict) as refused:
        services.batch_create(actor=biller, month=OCTOBER)
    assert "1 claim(s) lack MBI / member id, patient address" in refused.value.message
    assert patient.last_name not in refused.value.message
    assert patient.mbi not in refused.value.message
    _nothing_sent(practice)


@pytest.mark.usefixtures("closed")
def test_a_file_pyx12_refuses_is_never_stored(practice, biller):
    Claim.objects.for_practice(practice).update(place_of_service="00")
    with pytest.raises(StateConflict, match="failed validation") as refused:
        services.batch_create(actor=biller, month=OCTOBER)
    assert "place of service on Billing > POLICY" in refused.value.message
    _nothing_sent(practice)


# --- export.837 is the month's batch -------------------------------------------------------


def _new_ready_claim(practice, like):
    """Another patient's ready claim in the month (as a re-close adds a late patient)."""
    patient = PatientFactory(
        practice=practice, address_line1="9 Oak Street", city="Springfield", state="IL",
        postal_code="62701",
    )  # fmt: skip
    claim = Claim.objects.for_practice(practice).create(
        practice=practice, close_id=like.close_id, patient=patient, month=OCTOBER,
        billing_practitioner_id=like.billing_practitioner_id, date_of_service=like.date_of_service,
        place_of_service="11", diagnosis_codes=like.diagnosis_codes, amount=like.amount,
    )  # fmt: skip
    ClaimLine.objects.for_practice(practice).create(
        practice=practice, claim=claim, position=0, code="99490", units=1, minutes=25,
        charge=like.amount, explanation="R19",
    )  # fmt: skip
    return claim


@pytest.mark.usefixtures("closed")
def test_export_837_twice_gives_the_same_file_and_new_claims_go_in_a_new_batch(
    practice, biller, biller_client
):
    first = biller_client.get(f"{MONTH_URL}export.837")
    api = token_client(biller).get("/api/v1/billing/months/2026-10/export.837")
    again = biller_client.get(f"{MONTH_URL}export.837")
    assert first.status_code == api.status_code == again.status_code == 200
    assert first.content == api.content == again.content
    assert {c.status for c in _claims(practice)} == {"submitted"}
    late = _new_ready_claim(practice, _claims(practice)[0])
    newer = biller_client.get(f"{MONTH_URL}export.837").content.decode()
    assert newer != first.content.decode()
    assert [s[1] for s in _segments(newer) if s[0] == "CLM"] == [late.control_number]
    assert _segments(newer)[0][13] == "000000002"
    assert biller_client.get(f"{MONTH_URL}export.837").content.decode() == newer
    batches = SubmissionBatch.objects.for_practice(practice).filter(month=OCTOBER)
    assert batches.count() == 2
    assert BatchClaim.objects.for_practice(practice).filter(live=True).count() == 3


# --- payers per coverage, billing provider shapes -----------------------------------------


def _cover(claim, kind, payer=None, *, priority="primary", **fields):
    coverage = CoverageFactory(
        patient=claim.patient, priority=priority, kind=kind, payer=payer, **fields
    )
    return coverage


@pytest.mark.usefixtures("closed")
def test_ma_msp_and_secondary_claims_go_to_their_payers_in_one_valid_batch(practice, biller):
    plan = PayerFactory(practice=practice, name="Humana Gold Plus", payer_id="61101")
    insurer = PayerFactory(practice=practice, name="Aetna", payer_id="60054", kind="commercial")
    medicaid = PayerFactory(
        practice=practice, name="IL Medicaid", payer_id="77001", kind="medicaid"
    )
    ma_claim, msp_claim = _claims(practice)
    ma = _cover(ma_claim, "medicare_advantage", plan, member_id="H7788", group_number="G-12")
    msp = _cover(msp_claim, "other_primary", insurer, member_id="W9911", msp_type="12")
    second = _cover(msp_claim, "medicaid", medicaid, priority="secondary", member_id="MC55")
    Claim.objects.for_practice(practice).filter(pk=ma_claim.pk).update(coverage=ma, payer=plan)
    Claim.objects.for_practice(practice).filter(pk=msp_claim.pk).update(
        coverage=msp, secondary_coverage=second, payer_responsibility="S"
    )
    late = _new_ready_claim(practice, ma_claim)  # Part B with Medicaid secondary
    late_second = _cover(late, "medicaid", medicaid, priority="secondary", member_id="MC66")
    Claim.objects.for_practice(practice).filter(pk=late.pk).update(secondary_coverage=late_second)
    batch = services.batch_create(actor=biller, month=OCTOBER)
    assert x12.validate_837(batch.content) == []
    by_claim = _claim_segments(batch.content)
    ma_segments = by_claim[ma_claim.control_number]
    assert ["SBR", "P", "18", "G-12", "", "", "", "", "", "16"] in ma_segments
    assert ["NM1", "PR", "2", "HUMANA GOLD PLUS", "", "", "", "", "PI", "61101"] in ma_segments
    assert ["NM1", "IL", "1", *_name(ma_claim), "", "", "", "MI", "H7788"] in ma_segments
    assert not any(s[0] == "OI" for s in ma_segments)
    msp_segments = by_claim[msp_claim.control_number]
    sbrs = [s for s in msp_segments if s[0] == "SBR"]
    assert sbrs == [
        ["SBR", "S", "18", "", "", "12", "", "", "", "MB"],  # Medicare secondary, working aged
        ["SBR", "P", "18", "", "", "", "", "", "", "CI"],  # 2320: the primary insurer
        ["SBR", "T", "18", "", "", "", "", "", "", "MC"],  # 2320: Medicaid after both
    ]
    assert ["NM1", "PR", "2", "NORIDIAN JE PART B", "", "", "", "", "PI", "01112"] in (msp_segments)
    assert ["NM1", "IL", "1", *_name(msp_claim), "", "", "", "MI", "W9911"] in msp_segments
    assert ["NM1", "PR", "2", "AETNA", "", "", "", "", "PI", "60054"] in msp_segments
    assert not any(s[:2] == ["AMT", "D"] for s in msp_segments)  # the primary's paid: unknown
    late_segments = by_claim[late.control_number]
    assert [s for s in late_segments if s[0] == "SBR"] == [
        ["SBR", "P", "18", "", "", "", "", "", "", "MB"],
        ["SBR", "S", "18", "", "", "", "", "", "", "MC"],
    ]
    assert ["NM1", "IL", "1", *_name(late), "", "", "", "MI", late.patient.mbi] in late_segments


def _name(claim):
    return [claim.patient.last_name.upper(), claim.patient.first_name.upper()]


def _claim_segments(document):
    """Each claim's subscriber loop (from its HL to the next HL), by CLM01."""
    out, current = {}, []
    for segment in _segments(document):
        if segment[0] in ("HL", "SE"):
            if any(s[0] == "CLM" for s in current):
                out[next(s[1] for s in current if s[0] == "CLM")] = current
            current = []
        current.append(segment)
    return out


@pytest.mark.usefixtures("closed")
def test_an_msp_claim_without_its_primary_insurer_is_refused(practice, biller):
    claim = _claims(practice)[0]
    msp = _cover(claim, "other_primary", None, member_id="W1")
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
        coverage=msp, payer_responsibility="S"
    )
    with pytest.raises(StateConflict) as refused:
        services.batch_create(actor=biller, month=OCTOBER)
    message = refused.value.message
    assert "Medicare secondary payer type" in message
    assert "other insurance payer id" in message
    _nothing_sent(practice)


@pytest.mark.usefixtures("closed")
def test_an_individual_practitioner_bills_under_a_personal_npi(practice, biller, physician):
    physician.user.full_name = "Dr. Pat Physician"
    physician.user.save(update_fields=["full_name"])
    make_billing_setup(
        practice, provider_type="individual", individual_practitioner=physician,
        pay_to_line1="PO Box 77", pay_to_city="Springfield", pay_to_state="IL",
        pay_to_postal_code="62705",
    )  # fmt: skip
    batch = services.batch_create(actor=biller, month=OCTOBER)
    assert x12.validate_837(batch.content) == []
    segments = _segments(batch.content)
    billing = next(s for s in segments if s[:2] == ["NM1", "85"])
    assert billing == ["NM1", "85", "1", "PHYSICIAN", "PAT", "", "", "", "XX", physician.npi]
    assert ["NM1", "87", "1"] in segments
    assert ["N3", "PO BOX 77"] in segments
    assert ["N4", "SPRINGFIELD", "IL", "627011234"] in segments  # the 2010AA ZIP+4
    assert not any(s[:2] == ["NM1", "82"] for s in segments)


@pytest.mark.usefixtures("closed")
def test_an_individual_setup_without_its_practitioner_is_refused(practice, biller):
    make_billing_setup(practice, provider_type="individual", individual_practitioner=None)
    with pytest.raises(StateConflict, match="choose the practitioner"):
        services.batch_create(actor=biller, month=OCTOBER)
    _nothing_sent(practice)


# --- resubmitted, corrected and void claims ----------------------------------------------


def _sent(practice, biller):
    batch = services.batch_create(actor=biller, month=OCTOBER)
    return batch, _claims(practice)


def _entry(claim, **filters):
    return BatchClaim.objects.for_practice(claim.practice_id).get(claim=claim, **filters)


@pytest.mark.usefixtures("closed")
def test_a_rejected_claim_is_resubmitted_in_a_new_batch(practice, biller):
    first_batch, (claim, _other) = _sent(practice, biller)
    with pytest.raises(StateConflict, match="Only a rejected claim"):
        services.claim_resubmit(actor=biller, claim=claim)
    # The 277CA rejected it (billing.remittances): the claim is back with the biller.
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
        status="rejected", rejection_reason="A7:164 entity's contract/member id"
    )
    batch = services.claim_resubmit(actor=biller, claim=claim)
    assert (batch.control_number, batch.claims, batch.month) == (2, 1, OCTOBER)
    assert x12.validate_837(batch.content) == []
    assert f"CLM*{claim.control_number}*" in batch.content
    assert "11:B:1" in batch.content
    assert not _entry(claim, batch=first_batch).live
    assert _entry(claim, batch=batch).live
    claim.refresh_from_db()
    assert (claim.status, claim.rejection_reason) == ("submitted", "")
    assert audited("claim.resubmit", patient_id=claim.patient_id)


@pytest.mark.usefixtures("closed")
def test_a_reclose_correction_goes_out_as_a_replacement_with_the_payer_claim_number(
    practice, biller
):
    first_batch, (claim, _other) = _sent(practice, biller)
    later = timezone.now() + dt.timedelta(days=3)
    # What a confirmed re-close does to a sent claim it changes.
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
        status="ready", corrected_at=later
    )
    with time_machine.travel(later + dt.timedelta(hours=1), tick=False):
        with pytest.raises(StateConflict, match="enter the payer claim control number"):
            services.batch_create(actor=biller, month=OCTOBER)
        assert SubmissionBatch.objects.for_practice(practice).count() == 1
        Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
            payer_claim_number="22260012345"
        )
        batch = services.batch_create(actor=biller, month=OCTOBER)
    assert batch.claims == 1
    assert x12.validate_837(batch.content) == []
    segments = _segments(batch.content)
    clm = next(i for i, s in enumerate(segments) if s[0] == "CLM")
    assert segments[clm][5] == "11:B:7"
    assert segments[clm + 1] == ["REF", "F8", "22260012345"]
    entry = _entry(claim, batch=batch)
    assert (entry.frequency, entry.payer_claim_number, entry.live) == ("7", "22260012345", True)
    assert not _entry(claim, batch=first_batch).live


@pytest.mark.usefixtures("closed")
def test_the_biller_corrects_an_accepted_claim_typing_the_payer_claim_number(practice, biller):
    _batch, (claim, _other) = _sent(practice, biller)
    with pytest.raises(StateConflict, match="this claim is submitted"):
        services.claim_correct(actor=biller, claim=claim, payer_claim_number="ICN1")
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="paid")
    with pytest.raises(ValidationError) as missing:
        services.claim_correct(actor=biller, claim=claim)
    assert missing.value.message_dict == {
        "payer_claim_number": [services.PAYER_CLAIM_NUMBER_MESSAGE]
    }
    with pytest.raises(ValidationError, match="1 to 50 letters"):
        services.claim_correct(actor=biller, claim=claim, payer_claim_number="ICN 1*~")
    batch = services.claim_correct(actor=biller, claim=claim, payer_claim_number="2226-0042")
    assert "11:B:7" in batch.content
    assert "~REF*F8*2226-0042~" in batch.content
    assert x12.validate_837(batch.content) == []
    claim.refresh_from_db()
    assert (claim.status, claim.payer_claim_number) == ("submitted", "2226-0042")
    assert audited("claim.replace", patient_id=claim.patient_id)


@pytest.mark.usefixtures("closed")
def test_a_withdrawn_claim_that_was_sent_is_voided_once(practice, biller):
    _batch, (claim, other) = _sent(practice, biller)
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
        status="withdrawn", payer_claim_number="ICN77"
    )
    batch = services.claim_void(actor=biller, claim=claim)
    assert "11:B:8" in batch.content
    assert "~REF*F8*ICN77~" in batch.content
    assert x12.validate_837(batch.content) == []
    claim.refresh_from_db()
    assert claim.status == "withdrawn"
    assert _entry(claim, live=True).frequency == "8"
    with pytest.raises(StateConflict, match="void is already sent"):
        services.claim_void(actor=biller, claim=claim)
    # The biller's choice: a paid claim voided is withdrawn.
    Claim.objects.for_practice(practice).filter(pk=other.pk).update(status="paid")
    services.claim_void(actor=biller, claim=other, payer_claim_number="ICN78")
    other.refresh_from_db()
    assert other.status == "withdrawn"
    assert audited("claim.void", patient_id=other.patient_id)


@pytest.mark.usefixtures("closed")
def test_a_claim_never_sent_cannot_be_voided(practice, biller):
    claim = _claims(practice)[0]
    with pytest.raises(StateConflict, match="Only a claim that was sent"):
        services.claim_void(actor=biller, claim=claim, payer_claim_number="ICN1")
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="withdrawn")
    with pytest.raises(StateConflict, match="Only a claim that was sent"):
        services.claim_void(actor=biller, claim=claim, payer_claim_number="ICN1")
    assert not SubmissionBatch.objects.unscoped().exists()


@pytest.mark.usefixtures("closed")
def test_a_voided_claim_billed_again_goes_out_as_a_new_original(practice, biller):
    _batch, (claim, _other) = _sent(practice, biller)
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
        status="withdrawn", payer_claim_number="ICN9"
    )
    services.claim_void(actor=biller, claim=claim)
    # A re-close restores it (the month bills again).
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(
        status="ready", corrected_at=timezone.now() + dt.timedelta(days=1)
    )
    batch = services.batch_create(actor=biller, month=OCTOBER)
    assert "11:B:1" in batch.content
    assert "REF*F8" not in batch.content
    assert _entry(claim, live=True).batch == batch


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("closed")
def test_the_biller_creates_the_months_batch_from_the_month_page(practice, biller_client):
    month = biller_client.get(MONTH_URL).content.decode()
    assert "Create batch" in month
    assert 'hx-get="/billing/months/2026-10/batches/"' in month
    created = biller_client.post(f"{MONTH_URL}batches/")
    batch = SubmissionBatch.objects.for_practice(practice).get()
    assert created.status_code == 302
    assert created["Location"] == f"/billing/batches/{batch.pk}/"
    detail = biller_client.get(created["Location"]).content.decode()
    assert "Batch 000000001" in detail
    for claim in _claims(practice):
        assert claim.patient.last_name in detail
        assert claim.control_number in detail
    assert "1 Original" in detail
    assert f'href="/billing/batches/{batch.pk}/837"' in detail
    reads = AuditEvent.objects.unscoped().filter(action="claim.list")
    assert {p for e in reads for p in e.patient_ids} == {c.patient_id for c in _claims(practice)}
    rows = biller_client.get(f"{MONTH_URL}batches/", headers={"HX-Request": "true"})
    assert b"<html" not in rows.content
    assert b"000000001" in rows.content
    page = biller_client.get(f"{MONTH_URL}batches/")
    assert b"<html" in page.content
    assert b"837P batches: October 2026" in page.content


@pytest.mark.usefixtures("closed")
def test_a_batch_download_is_the_stored_file_every_time_and_audited(
    practice, biller, biller_client
):
    batch = services.batch_create(actor=biller, month=OCTOBER)
    first = biller_client.get(f"/billing/batches/{batch.pk}/837")
    second = biller_client.get(f"/billing/batches/{batch.pk}/837")
    api = token_client(biller).get(f"/api/v1/billing/batches/{batch.pk}/837")
    assert first.content == second.content == api.content == batch.content.encode()
    assert first["Content-Type"] == "application/edi-x12"
    assert first["Content-Disposition"] == (
        f'attachment; filename="caremonth-{practice.slug}-2026-10-000000001.837"'
    )
    assert first["Cache-Control"] == "no-store"
    downloads = AuditEvent.objects.unscoped().filter(action="submissionbatch.download")
    assert downloads.count() == 3


def test_the_batch_list_reads_a_fixed_number_of_queries(
    practice, biller, biller_client, django_assert_num_queries
):
    def add(n):
        for number in range(n):
            SubmissionBatch.objects.for_practice(practice).create(
                practice=practice, month=OCTOBER, control_number=100 + number, usage="P",
                content="x", sha256="x", created_by=biller,
            )  # fmt: skip

    add(1)
    url = f"{MONTH_URL}batches/"
    biller_client.get(url)  # the session's first request warms its caches
    with django_assert_num_queries(5) as one:
        assert biller_client.get(url).status_code == 200
    SubmissionBatch.objects.for_practice(practice).delete()
    add(12)
    with django_assert_num_queries(len(one.captured_queries)):
        page = biller_client.get(url)
    assert page.content.count(b"Download 837P") == 12
    api = token_client(biller)
    api.get(API_BATCHES)
    with django_assert_num_queries(4):  # authentication, the count, the page: any number of rows
        assert api.get(API_BATCHES).json()["count"] == 12


@pytest.mark.usefixtures("closed")
def test_the_claim_page_offers_resubmit_correct_and_void_by_status(practice, biller, biller_client):
    _batch, (claim, _other) = _sent(practice, biller)
    url = f"/billing/claims/{claim.pk}/"
    page = biller_client.get(url).content.decode()
    assert "Void the claim" in page
    assert "Resubmit" not in page
    assert "Send a corrected claim" not in page
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="rejected")
    assert "Resubmit in a new batch" in biller_client.get(url).content.decode()
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="paid")
    page = biller_client.get(url).content.decode()
    assert "Send a corrected claim" in page
    assert 'name="payer_claim_number"' in page  # unknown yet: the biller types it
    done = biller_client.post(f"{url}correct/", {"payer_claim_number": "ICN-5"})
    batch = SubmissionBatch.objects.for_practice(practice).get(control_number=2)
    assert done["Location"] == f"/billing/batches/{batch.pk}/"
    assert _entry(claim, live=True).frequency == "7"


@pytest.mark.usefixtures("closed")
def test_a_correction_with_a_bad_payer_claim_number_saves_nothing(practice, biller, biller_client):
    _batch, (claim, _other) = _sent(practice, biller)
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="paid")
    page = biller_client.post(
        f"/billing/claims/{claim.pk}/correct/", {"payer_claim_number": "ICN 5*~"}, follow=True
    )
    assert services.PAYER_CLAIM_NUMBER_FORMAT_MESSAGE in page.content.decode()
    claim.refresh_from_db()
    assert (claim.status, claim.payer_claim_number) == ("paid", "")
    assert SubmissionBatch.objects.for_practice(practice).count() == 1


@pytest.mark.usefixtures("closed")
def test_batch_pages_refuse_other_roles_outsiders_and_get_writes(
    practice, biller, coordinator_client, physician_client, outsider_client, biller_client
):
    batch = services.batch_create(actor=biller, month=OCTOBER)
    claim = _claims(practice)[0]
    reads = [
        f"{MONTH_URL}batches/",
        f"/billing/batches/{batch.pk}/",
        f"/billing/batches/{batch.pk}/837",
    ]
    writes = [f"{MONTH_URL}batches/"] + [
        f"/billing/claims/{claim.pk}/{action}/" for action in ("resubmit", "correct", "void")
    ]
    for client in (coordinator_client, physician_client):
        for url in reads:
            assert client.get(url).status_code == 403, url
        for url in writes:
            assert client.post(url).status_code == 403, url
    for url in reads[1:] + writes[1:]:
        assert outsider_client.get(url).status_code in (404, 405), url
        assert outsider_client.post(url).status_code in (404, 405), url
    for url in writes[1:]:
        assert biller_client.get(url).status_code == 405  # a write is never a GET
    assert "Create batch" not in physician_client.get(MONTH_URL).content.decode()
    assert SubmissionBatch.objects.unscoped().count() == 1
    assert not audited("submissionbatch.download")


# --- API -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("closed")
def test_api_creates_lists_and_reads_batches(practice, biller):
    api = token_client(biller)
    first, second = _claims(practice)
    created = api.post(API_BATCHES, {"claims": [str(second.pk)]}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["control_number"], body["month"], body["claims"]) == (1, "2026-10", 1)
    assert body["entries"] == [
        {
            "claim": str(second.pk), "patient": str(second.patient_id),
            "patient_control_number": second.control_number, "frequency": "1",
            "payer_claim_number": "", "charge": "66.13", "live": True, "status": "pending",
            "claim_status": "submitted",
        }
    ]  # fmt: skip
    rest = api.post(API_BATCHES, {}, format="json").json()
    listed = api.get(API_BATCHES).json()
    assert listed["count"] == 2
    assert [b["control_number"] for b in listed["results"]] == [2, 1]
    assert "content" not in listed["results"][0]
    detail = api.get(f"/api/v1/billing/batches/{rest['id']}/").json()
    assert [e["claim"] for e in detail["entries"]] == [str(first.pk)]


@pytest.mark.usefixtures("closed")
def test_api_bad_input_is_a_400_and_an_unknown_claim_a_404_with_nothing_saved(practice, biller):
    api = token_client(biller)
    for body in ({"claims": []}, {"claims": ["not-a-uuid"]}, {"claims": "all"}):
        answer = api.post(API_BATCHES, body, format="json")
        assert answer.status_code == 400, body
        assert "claims" in answer.json()
    assert api.post("/api/v1/billing/months/26-10/batches/", {}, format="json").status_code == 400
    unknown = {"claims": ["00000000-0000-4000-8000-000000000000"]}
    assert api.post(API_BATCHES, unknown, format="json").status_code == 404
    _nothing_sent(practice)
    services.batch_create(actor=biller, month=OCTOBER)
    claim = _claims(practice)[0]
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="paid")
    url = f"/api/v1/billing/claims/{claim.pk}/correct/"
    for body in ({"payer_claim_number": "bad number"}, {"payer_claim_number": 12}, {}):
        answer = api.post(url, body, format="json")
        assert answer.status_code == 400, body
        assert "payer_claim_number" in answer.json()
    assert SubmissionBatch.objects.for_practice(practice).count() == 1
    assert api.post(f"/api/v1/billing/claims/{claim.pk}/resubmit/").status_code == 409


@pytest.mark.usefixtures("closed")
def test_api_a_misspelt_field_is_refused_and_nothing_is_sent(practice, biller):
    first, _second = _claims(practice)
    answer = token_client(biller).post(API_BATCHES, {"claim": [str(first.pk)]}, format="json")
    assert answer.status_code == 400
    assert answer.json() == {"claim": ["Unknown field."]}
    assert not SubmissionBatch.objects.for_practice(practice).exists()
    assert set(Claim.objects.for_practice(practice).values_list("status", flat=True)) == {"ready"}


@pytest.mark.usefixtures("closed")
def test_api_resubmit_correct_and_void_answer_the_new_batch(practice, biller):
    api = token_client(biller)
    services.batch_create(actor=biller, month=OCTOBER)
    first, second = _claims(practice)
    Claim.objects.for_practice(practice).filter(pk=first.pk).update(status="rejected")
    resent = api.post(f"/api/v1/billing/claims/{first.pk}/resubmit/")
    assert resent.status_code == 201
    assert resent.json()["entries"][0]["frequency"] == "1"
    Claim.objects.for_practice(practice).filter(pk=second.pk).update(status="denied")
    corrected = api.post(
        f"/api/v1/billing/claims/{second.pk}/correct/",
        {"payer_claim_number": "ICN42"},
        format="json",
    )
    assert corrected.status_code == 201
    assert corrected.json()["entries"][0]["payer_claim_number"] == "ICN42"
    Claim.objects.for_practice(practice).filter(pk=second.pk).update(status="paid")
    voided = api.post(f"/api/v1/billing/claims/{second.pk}/void/", {}, format="json")
    assert voided.status_code == 201  # the claim's own number, kept from the correction
    assert voided.json()["entries"][0] == voided.json()["entries"][0] | {
        "frequency": "8", "payer_claim_number": "ICN42", "claim_status": "withdrawn",
    }  # fmt: skip
    assert [b["control_number"] for b in api.get(API_BATCHES).json()["results"]] == [4, 3, 2, 1]


@pytest.mark.usefixtures("closed")
def test_api_refuses_other_roles_and_outsiders(practice, biller, coordinator, physician, outsider):
    batch = services.batch_create(actor=biller, month=OCTOBER)
    claim = _claims(practice)[0]
    Claim.objects.for_practice(practice).filter(pk=claim.pk).update(status="rejected")
    reads = [
        API_BATCHES,
        f"/api/v1/billing/batches/{batch.pk}/",
        f"/api/v1/billing/batches/{batch.pk}/837",
    ]
    writes = [API_BATCHES] + [
        f"/api/v1/billing/claims/{claim.pk}/{action}/" for action in ("resubmit", "correct", "void")
    ]
    for member in (coordinator, physician):
        api = token_client(member)
        for url in reads:
            assert api.get(url).status_code == 403, url
        for url in writes:
            assert api.post(url, {}, format="json").status_code == 403, url
    stranger = token_client(outsider)
    for url in reads[1:]:
        assert stranger.get(url).status_code == 404, url
    for url in writes[1:]:
        assert stranger.post(url, {}, format="json").status_code == 404, url
    assert stranger.get(API_BATCHES).json()["count"] == 0
    assert SubmissionBatch.objects.unscoped().count() == 1
    claim.refresh_from_db()
    assert claim.status == "rejected"


def test_a_reclose_keeps_sent_claims_and_sends_its_corrections_as_replacements(
    practice,
    admin,
    biller,
    physician,
    coordinator,
    closed,  # noqa: F811
):
    services.batch_create(actor=biller, month=OCTOBER)
    changed, kept = _claims(practice)
    later = AFTER + dt.timedelta(days=2)
    with time_machine.travel(later, tick=False):
        close_services.month_reopen(practice=practice, month=OCTOBER, actor=admin, reason="notes")
        staff_time(
            changed.patient,
            coordinator,
            physician,
            dt.datetime(2026, 10, 20, 14, tzinfo=dt.UTC),
            20,
        )
        with pytest.raises(ValidationError, match="confirm"):  # a change to a sent claim
            close_services.month_close(practice_id=practice.pk, month=OCTOBER)
        assert {c.status for c in _claims(practice)} == {"submitted"}  # kept, not replaced
        close_services.month_close(practice_id=practice.pk, month=OCTOBER, confirm_changes=True)
        changed.refresh_from_db()
        kept.refresh_from_db()
        assert (changed.status, changed.corrected_at) == ("ready", later)
        assert kept.status == "submitted"
        with pytest.raises(StateConflict, match="enter the payer claim control number"):
            services.batch_create(actor=biller, month=OCTOBER)
        batch = services.claim_correct(actor=biller, claim=changed, payer_claim_number="ICN-31")
    assert "~REF*F8*ICN-31~" in batch.content
    assert "HC:99439" in batch.content  # the corrected lines
    assert x12.validate_837(batch.content) == []
    assert BatchClaim.objects.for_practice(practice).filter(live=True).count() == 2
