"""999 and 277CA acknowledgments: the batch accepted or rejected (segment errors shown),
each claim accepted or rejected with its codes' meaning, rejected claims back in the
biller's queue; the same file twice changes nothing; pages and API (style §7)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.exports.x12 import validate_837
from billing.models import (
    Acknowledgment,
    BatchClaimStatus,
    BatchStatus,
    ClaimAcknowledgment,
    ClaimStatus,
)
from billing.remittances import parse, services
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.billing.remittance_cast import (
    BATCH_NUMBER,
    NUMBERS,
    batch_837,
    fresh,
    sent_batch,
    x12,
)
from tests.helpers import assert_form_error, audited, token_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scope")]
FILES = [
    "999_accepted.x12",
    "999_rejected.x12",
    "999_partial.x12",
    "277ca.x12",
    "835.x12",
    "835_reversal.x12",
]
LIST_URL = "/api/v1/billing/acknowledgments/"


@pytest.mark.parametrize("name", FILES)
def test_every_fixture_passes_pyx12(name):
    assert validate_837(x12(name)) == []


def _import(practice, actor, name):
    with practice_scope(practice):
        return services.x12_import(practice=practice, actor=actor, content=x12(name).encode())


@pytest.fixture
def sent(practice, physician, biller):
    with practice_scope(practice):
        return sent_batch(practice, physician, biller)


def test_an_accepted_999_accepts_the_batch_and_leaves_its_claims_waiting_for_the_277ca(
    practice, biller, sent
):
    claims, batch = sent
    ack, created = _import(practice, biller, "999_accepted.x12")
    assert created
    assert ack.accepted
    assert ack.batch == batch
    assert ack.errors == []
    assert fresh(batch).status == BatchStatus.ACCEPTED
    assert batch.acknowledged_at
    assert {e.status for e in batch.entries.all()} == {BatchClaimStatus.PENDING}
    assert {fresh(c).status for c in claims} == {ClaimStatus.SUBMITTED}
    assert audited("acknowledgment.import", object_id=str(ack.pk))


def test_a_rejected_999_sends_the_batchs_claims_back_with_the_segment_errors(
    practice, biller, sent
):
    claims, batch = sent
    ack, _ = _import(practice, biller, "999_rejected.x12")
    assert not ack.accepted
    assert fresh(batch).status == BatchStatus.REJECTED
    segment = next(e for e in ack.errors if e["level"] == "segment" and e["segment"] == "N4")
    assert segment["description"] == "Segment has data element errors"
    assert segment["elements"] == [
        {"element": "N403", "reference": "116", "code": "7", "description": "Invalid code value"}
    ]
    assert "1234" not in str(ack.errors)  # IK404, the bad value itself, is never kept
    for entry in batch.entries.all():
        assert (entry.live, entry.status) == (False, BatchClaimStatus.REJECTED)
        assert "N4 (loop 2010)" in entry.status_reason
    for claim in claims:
        claim = fresh(claim)
        assert claim.status == ClaimStatus.REJECTED
        assert claim.rejection_reason.startswith("999 rejected the batch: N4 (loop 2010)")
        assert "N403 Invalid code value" in claim.rejection_reason
    events = AuditEvent.objects.unscoped().filter(action="claim.acknowledge")
    assert {e.patient_id for e in events} == {c.patient_id for c in claims}


def test_a_partly_accepted_999_rejects_only_the_claims_of_its_rejected_set(practice, biller, sent):
    claims, batch = sent
    batch.content = batch_837(claims[:2])  # set 0001 holds claims 1 and 2
    assert validate_837(batch.content) == []
    batch.save(update_fields=["content"])
    _import(practice, biller, "999_partial.x12")
    assert fresh(batch).status == BatchStatus.PARTIAL
    assert [fresh(c).status for c in claims] == ["rejected", "rejected", "submitted"]
    assert "CLM (loop 2300)" in fresh(claims[0]).rejection_reason
    assert {e.claim_id for e in batch.entries.filter(live=True)} == {claims[2].pk}


def test_the_999_page_shows_the_segment_errors(practice, biller, biller_client, sent):
    ack, _ = _import(practice, biller, "999_rejected.x12")
    page = biller_client.get(reverse("billing:ack-detail", args=[ack.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Segment has data element errors" in text
    assert "N403" in text
    assert "Implementation dependent segment missing" in text  # IK3 REF code I6
    assert "batch 000000017" in text


def test_a_999_of_no_batch_of_this_practice_is_kept_and_says_so(
    practice, other_practice, biller, outsider
):
    with practice_scope(other_practice):
        sent_batch(other_practice, outsider, outsider)  # batch 17, but of the other practice
    ack, created = _import(practice, biller, "999_rejected.x12")
    assert created
    assert ack.batch is None
    assert f"group control number {BATCH_NUMBER}" in ack.summary
    with practice_scope(other_practice):
        assert {c.status for c in _claims(other_practice)} == {ClaimStatus.SUBMITTED}


def _claims(practice):
    from billing.models import Claim

    return list(Claim.objects.for_practice(practice))


def test_a_277ca_accepts_one_claim_and_rejects_the_other_with_its_meaning(practice, biller, sent):
    claims, batch = sent
    ack, _ = _import(practice, biller, "277ca.x12")
    accepted, rejected, untouched = (fresh(c) for c in claims)
    assert ack.batch == batch
    assert not ack.accepted
    assert "1 rejected" in ack.summary
    assert accepted.status == ClaimStatus.ACCEPTED
    assert accepted.payer_claim_number == "22126800000101"
    assert rejected.status == ClaimStatus.REJECTED
    assert rejected.rejection_reason == (
        "277CA rejected the claim: A7: Acknowledgement/Rejected for Invalid Information - "
        "The claim/encounter has invalid information as specified in the Status details and "
        "has been rejected. 562: Entity's National Provider Identifier (NPI). "
        "(Billing provider)"
    )
    assert untouched.status == ClaimStatus.SUBMITTED
    entries = {e.claim_id: e for e in batch.entries.all()}
    assert (entries[accepted.pk].live, entries[accepted.pk].status) == (True, "accepted")
    assert (entries[rejected.pk].live, entries[rejected.pk].status) == (False, "rejected")
    with practice_scope(practice):
        statuses = list(ClaimAcknowledgment.objects.for_practice(practice).order_by("position"))
    assert [(s.claim_id, s.accepted, s.category_code, s.status_code) for s in statuses] == [
        (accepted.pk, True, "A2", "20"),
        (rejected.pk, False, "A7", "562"),
    ]
    events = AuditEvent.objects.unscoped().filter(action="claim.acknowledge")
    assert {e.patient_id for e in events} == {accepted.patient_id, rejected.patient_id}


def test_the_277ca_page_shows_each_claims_meaning_and_links_the_rejected_queue(
    practice, biller, physician_client, sent
):
    claims, _ = sent
    ack, _ = _import(practice, biller, "277ca.x12")
    page = physician_client.get(reverse("billing:ack-detail", args=[ack.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Entity&#x27;s National Provider Identifier (NPI)" in text
    assert reverse("billing:claim-detail", args=[claims[1].pk]) in text
    assert reverse("billing:claim-list", args=["2026-09"]) + "?status=rejected" in text
    for claim in claims[:2]:  # an accepted and a rejected claim's own pages
        assert (
            physician_client.get(reverse("billing:claim-detail", args=[claim.pk])).status_code
            == 200
        )
    assert audited("acknowledgment.read", patient_id=claims[1].patient_id)


def test_the_same_acknowledgment_twice_changes_nothing(practice, biller, sent):
    claims, _ = sent
    first, created = _import(practice, biller, "277ca.x12")
    assert created
    before = [(c.status, c.rejection_reason) for c in map(fresh, claims)]
    again, created = _import(practice, biller, "277ca.x12")
    assert (again.pk, created) == (first.pk, False)
    assert [(c.status, c.rejection_reason) for c in map(fresh, claims)] == before
    with practice_scope(practice):
        assert ClaimAcknowledgment.objects.for_practice(practice).count() == 2
    assert AuditEvent.objects.unscoped().filter(action="acknowledgment.import").count() == 1


# --- pages ----------------------------------------------------------------------------------


def _upload(client, name, text=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = (text if text is not None else x12(name)).encode()
    return client.post(reverse("billing:remit-list"), {"file": SimpleUploadedFile(name, content)})


def test_a_biller_uploads_a_999_and_lands_on_its_page(biller_client, sent):
    response = _upload(biller_client, "999_accepted.x12")
    ack = Acknowledgment.objects.unscoped().get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:ack-detail", args=[ack.pk])
    again = _upload(biller_client, "999_accepted.x12")
    assert again["Location"] == response["Location"]
    page = biller_client.get(again["Location"])
    assert "already imported" in page.content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The submitted file is empty."),
        ("hello, not X12", parse.NOT_X12_MESSAGE),
        (
            x12("999_accepted.x12").replace("SE*6*0001", "SE*7*0001"),
            "ST: SE count of 7 for SE02=0001 is wrong. I count 6 (code 4)",
        ),
    ],
)
def test_a_bad_file_is_refused_with_a_message_and_nothing_saved(biller_client, sent, text, message):
    _claims, batch = sent
    response = _upload(biller_client, "bad.x12", text)
    assert_form_error(response, message)
    assert not Acknowledgment.objects.unscoped().exists()
    assert fresh(batch).status == BatchStatus.CREATED


def test_a_coordinator_may_neither_see_nor_upload(coordinator_client):
    assert coordinator_client.get(reverse("billing:remit-list")).status_code == 403
    assert _upload(coordinator_client, "999_accepted.x12").status_code == 403
    assert not Acknowledgment.objects.unscoped().exists()


def test_a_physician_reads_but_may_not_upload(physician_client, sent):
    page = physician_client.get(reverse("billing:remit-list"))
    assert page.status_code == 200
    assert 'type="file"' not in page.content.decode()
    assert _upload(physician_client, "999_accepted.x12").status_code == 403
    assert not Acknowledgment.objects.unscoped().exists()


def test_the_outsider_gets_404(practice, biller, outsider_client, sent):
    ack, _ = _import(practice, biller, "277ca.x12")
    assert outsider_client.get(reverse("billing:ack-detail", args=[ack.pk])).status_code == 404
    assert outsider_client.get(f"{LIST_URL}{ack.pk}/").status_code == 404
    listed = outsider_client.get(reverse("billing:remit-list")).content.decode()
    assert str(ack.pk) not in listed


def test_the_files_page_has_a_fixed_query_count(
    practice, biller, biller_client, sent, django_assert_num_queries
):
    for n in range(12):
        text = x12("999_accepted.x12").replace("*000000501*", f"*{n:09d}*")
        text = text.replace("IEA*1*000000501", f"IEA*1*{n:09d}")
        with practice_scope(practice):
            services.x12_import(practice=practice, actor=biller, content=text)
    biller_client.get(reverse("billing:remit-list"))  # session warm-up
    with django_assert_num_queries(6):
        page = biller_client.get(reverse("billing:remit-list"))
    assert page.content.decode().count('href="/billing/acknowledgments/') == 12


# --- API ------------------------------------------------------------------------------------


def _post(client, name, text=None, content_type="text/plain"):
    body = text if text is not None else x12(name)
    return client.post(LIST_URL, body, content_type=content_type)


def test_the_api_imports_a_277ca_once(practice, biller, sent):
    claims, _ = sent
    client = token_client(biller)
    response = _post(client, "277ca.x12")
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "277CA"
    assert body["batch"]["control_number"] == BATCH_NUMBER
    assert [s["category_code"] for s in body["claim_statuses"]] == ["A2", "A7"]
    assert body["claim_statuses"][1]["claim"] == str(claims[1].pk)
    assert body["claim_statuses"][1]["patient_control_number"] == NUMBERS[2]
    again = _post(client, "277ca.x12", content_type="application/edi-x12")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    detail = client.get(f"{LIST_URL}{body['id']}/")
    assert detail.status_code == 200
    assert detail.json() == again.json()


def test_the_api_shows_a_999s_errors(practice, biller, sent):
    body = _post(token_client(biller), "999_rejected.x12").json()
    assert body["accepted"] is False
    assert body["errors"][0] == {"level": "transaction", "transaction": "0001", "code": "5",
                                 "description": "One or more segments in error"}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("", "", parse.EMPTY_MESSAGE),
        ("", "ISA*garbage", parse.NOT_X12_MESSAGE),
        ("835.x12", None, "This file is a 835 remittance advice (ERA); upload it as a remittance"),
    ],
)
def test_the_api_refuses_a_bad_file_with_400_and_saves_nothing(biller, sent, name, text, message):
    response = _post(token_client(biller), name, text)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert not Acknowledgment.objects.unscoped().exists()


def test_the_api_answers_a_coordinator_403_and_a_physician_reads(coordinator, physician, sent):
    assert _post(token_client(coordinator), "999_accepted.x12").status_code == 403
    assert token_client(coordinator).get(LIST_URL).status_code == 403
    assert _post(token_client(physician), "999_accepted.x12").status_code == 403
    assert token_client(physician).get(LIST_URL).status_code == 200
    assert not Acknowledgment.objects.unscoped().exists()


def test_the_api_list_has_a_fixed_query_count(practice, biller, sent, django_assert_num_queries):
    for n in range(12):
        text = x12("999_accepted.x12").replace("*000000501*", f"*{n:09d}*")
        text = text.replace("IEA*1*000000501", f"IEA*1*{n:09d}")
        with practice_scope(practice):
            services.x12_import(practice=practice, actor=biller, content=text)
    client = token_client(biller)
    client.get(LIST_URL)
    with django_assert_num_queries(4):
        response = client.get(f"{LIST_URL}?page_size=100")
    assert response.json()["count"] == 12
