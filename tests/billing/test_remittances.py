"""835 remittances: each CLP posted to its claim by the patient control number (paid,
patient responsibility, every CAS with its description, the payer's claim number), denials
with their reasons, unmatched payments kept, reversals subtracted, the same 835 twice
changing nothing; the money on the month page and API, the receivables' ageing; pages and
API (style §7)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import (
    Claim,
    ClaimStatus,
    Remittance,
    RemittanceAdjustment,
    RemittanceClaim,
)
from billing.remittances import services
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.billing.remittance_cast import (
    NUMBERS,
    UNMATCHED,
    fresh,
    sent_batch,
    sent_claim,
    x12,
)
from tests.helpers import assert_form_error, audited, token_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scope")]
LIST_URL = "/api/v1/billing/remittances/"


def _import(practice, actor, name, text=None):
    with practice_scope(practice):
        content = (text if text is not None else x12(name)).encode()
        return services.x12_import(practice=practice, actor=actor, content=content)


@pytest.fixture
def sent(practice, physician, biller):
    with practice_scope(practice):
        return sent_batch(practice, physician, biller)[0]


def _money(claim):
    claim = fresh(claim)
    return (
        claim.status,
        claim.paid_amount,
        claim.patient_responsibility,
        claim.adjustment_amount,
    )


def test_an_835_posts_paid_partly_paid_and_denied_claims(practice, biller, sent):
    paid, partly, denied = sent
    remit, created = _import(practice, biller, "835.x12")
    assert created
    assert (remit.payer_name, remit.payer_id, remit.trace_number) == (
        "MEDICARE PART B",
        "12345",
        "EFT0000701",
    )
    assert (remit.total_paid, remit.paid_on, remit.payment_method) == (
        Decimal("151.33"),
        dt.date(2026, 11, 5),
        "ACH",
    )
    assert (remit.claims_matched, remit.claims_unmatched) == (3, 1)
    assert _money(paid) == ("paid", Decimal("62.00"), Decimal("0.00"), Decimal("0.00"))
    assert _money(partly) == ("paid", Decimal("49.33"), Decimal("12.33"), Decimal("4.47"))
    assert _money(denied) == ("denied", Decimal("0.00"), Decimal("0.00"), Decimal("66.13"))
    denied = fresh(denied)
    assert denied.denial_reason == (
        "CO-97: The benefit for this service is included in the payment/allowance for "
        "another service/procedure that has already been adjudicated."
    )
    partly = fresh(partly)
    assert partly.payer_claim_number == "22126800000102"
    assert partly.adjudicated_on == dt.date(2026, 11, 5)
    with practice_scope(practice):
        adjustments = RemittanceAdjustment.objects.for_practice(practice).filter(
            remittance_claim__claim=partly
        )
        assert sorted(
            (a.group_code, a.reason_code, a.amount, a.line_code, a.description) for a in adjustments
        ) == [
            (
                "CO",
                "45",
                Decimal("4.47"),
                "99490",
                "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee "
                "arrangement.",
            ),
            ("PR", "2", Decimal("12.33"), "99490", "Coinsurance Amount"),
        ]
        unmatched = RemittanceClaim.objects.for_practice(practice).get(claim=None)
    assert (unmatched.patient_control_number, unmatched.paid) == (UNMATCHED, Decimal("40.00"))


def test_the_835_is_audited_once_and_per_patient(practice, biller, sent):
    remit, _ = _import(practice, biller, "835.x12")
    assert audited("remittance.import", object_id=str(remit.pk), actor=biller.user)
    events = AuditEvent.objects.unscoped().filter(action="claim.remit")
    assert sorted(e.patient_id for e in events) == sorted(c.patient_id for c in sent)


def test_the_same_835_twice_changes_nothing(practice, biller, sent):
    first, _ = _import(practice, biller, "835.x12")
    before = [_money(c) for c in sent]
    again, created = _import(practice, biller, "835.x12")
    assert (again.pk, created) == (first.pk, False)
    # The same payment in other bytes (no line breaks): the same payer and trace number.
    same, created = _import(practice, biller, "", x12("835.x12").replace("~\n", "~"))
    assert (same.pk, created) == (first.pk, False)
    assert [_money(c) for c in sent] == before
    with practice_scope(practice):
        assert Remittance.objects.for_practice(practice).count() == 1
        assert RemittanceClaim.objects.for_practice(practice).count() == 4
    assert AuditEvent.objects.unscoped().filter(action="remittance.import").count() == 1


def test_a_reversal_takes_the_payment_back(practice, biller, sent):
    _import(practice, biller, "835.x12")
    reversal, created = _import(practice, biller, "835_reversal.x12")
    assert created
    assert reversal.total_paid == 0
    partly = fresh(sent[1])
    assert _money(partly) == ("accepted", Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    with practice_scope(practice):
        row = RemittanceClaim.objects.for_practice(practice).get(remittance=reversal)
    assert (row.status_code, row.paid) == ("22", Decimal("-49.33"))
    assert _money(sent[0])[0] == "paid"  # the others are untouched


def test_a_reversal_sent_with_positive_amounts_still_subtracts(practice, biller, sent):
    _import(practice, biller, "835.x12")
    positive = x12("835_reversal.x12").replace("*-", "*")
    _import(practice, biller, "", positive)
    assert _money(sent[1])[1:] == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


def test_another_practices_claim_number_stays_unmatched_here(
    practice, other_practice, biller, outsider, sent
):
    with practice_scope(other_practice):
        theirs = sent_claim(other_practice, outsider, UNMATCHED, Decimal("40.00"))
    remit, _ = _import(practice, biller, "835.x12")
    assert remit.claims_unmatched == 1
    with practice_scope(other_practice):
        assert _money(theirs) == ("submitted", Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    with practice_scope(practice):
        row = RemittanceClaim.objects.for_practice(practice).get(patient_control_number=UNMATCHED)
    assert row.claim_id is None


def test_an_unknown_reason_code_is_shown_by_its_number(practice, biller, sent):
    text = x12("835.x12").replace("CAS*CO*97*66.13", "CAS*CO*P99*66.13")
    _import(practice, biller, "", text)
    assert fresh(sent[2]).denial_reason == "CO-P99: reason code P99"


# --- pages ----------------------------------------------------------------------------------


def _upload(client, text):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("era.835", text.encode())
    return client.post(reverse("billing:remit-list"), {"file": upload})


def test_a_biller_uploads_an_835_twice_and_is_told_the_second_time(biller_client, sent):
    first = _upload(biller_client, x12("835.x12"))
    remit = Remittance.objects.unscoped().get()
    assert first["Location"] == reverse("billing:remit-detail", args=[remit.pk])
    page = biller_client.get(_upload(biller_client, x12("835.x12"))["Location"])
    text = page.content.decode()
    assert "already imported" in text
    assert "MEDICARE PART B" in text
    assert "EFT0000701" in text
    assert "$151.33" in text
    assert "CO-45" in text
    assert "PR-2" in text
    assert "Coinsurance Amount" in text
    assert "Unmatched payments" in text
    assert UNMATCHED in text
    assert reverse("billing:claim-detail", args=[sent[1].pk]) in text
    assert audited("remittance.read", patient_id=sent[1].patient_id)


def test_a_bad_835_is_refused_on_the_page_and_nothing_saved(biller_client, sent):
    broken = x12("835.x12").replace(
        "CLP*0123456789ABCDEF0001*1*62*62", "CLP*0123456789ABCDEF0001*1*X*62"
    )
    response = _upload(biller_client, broken)
    assert_form_error(response, "The 835 remittance advice (ERA) failed validation")
    assert "CLP segment 13" in response.content.decode()
    assert not Remittance.objects.unscoped().exists()
    assert _money(sent[0])[0] == "submitted"


def test_the_outsider_gets_404_and_the_coordinator_403(
    practice, biller, outsider_client, coordinator_client, sent
):
    remit, _ = _import(practice, biller, "835.x12")
    url = reverse("billing:remit-detail", args=[remit.pk])
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.get(f"{LIST_URL}{remit.pk}/").status_code == 404
    assert coordinator_client.get(url).status_code == 403
    assert _upload(coordinator_client, x12("835_reversal.x12")).status_code == 403
    assert Remittance.objects.unscoped().count() == 1


# --- money on the month page, the API and the receivables -----------------------------------


def test_the_month_page_shows_the_money_with_links(practice, biller, biller_client, sent):
    _import(practice, biller, "835.x12")
    with practice_scope(practice):
        sent_claim(practice, sent[0].billing_practitioner, "0123456789ABCDEF0009", Decimal("50"))
    text = biller_client.get(reverse("billing:month-detail", args=["2026-09"])).content.decode()
    assert "Billed" in text
    assert "$244.26" in text
    assert "$111.33" in text  # paid 62 + 49.33
    assert "$4.47" in text  # adjusted: CO-45 (the denial's CO-97 is the denied figure)
    assert "$12.33" in text  # patient responsibility
    assert "$66.13" in text  # denied
    assert "$50.00" in text  # outstanding: the one still submitted
    claims = reverse("billing:claim-list", args=["2026-09"])
    assert f"{claims}?status=paid" in text
    assert f"{claims}?status=denied" in text
    outstanding = "month=2026-09&amp;status=submitted&amp;status=accepted&amp;status=rejected"
    assert f"{reverse('billing:money-claims')}?{outstanding}" in text


def test_the_month_api_has_the_money(practice, biller, sent):
    _import(practice, biller, "835.x12")
    money = token_client(biller).get("/api/v1/billing/months/2026-09/").json()["money"]
    assert money == {
        "billed": "194.26",
        "paid": "111.33",
        "adjusted": "4.47",
        "patient_responsibility": "12.33",
        "denied": "66.13",
        "outstanding": "0.00",
    }
    # Every sent dollar is in exactly one figure (the probe found a denial counted twice).
    parts = ("paid", "adjusted", "patient_responsibility", "denied", "outstanding")
    assert sum(Decimal(money[k]) for k in parts) == Decimal(money["billed"])


def _aged(practice, practitioner, number, days, status=ClaimStatus.SUBMITTED):
    day = practice.today() - dt.timedelta(days=days)
    submitted = dt.datetime.combine(day, dt.time(12), tzinfo=practice.zone)
    return sent_claim(
        practice, practitioner, number, Decimal("10"), submitted_at=submitted, status=status
    )


def test_the_ageing_puts_outstanding_claims_in_their_bucket(
    practice, physician, biller_client, django_assert_num_queries
):
    with practice_scope(practice):
        for n, days in enumerate([0, 30, 31, 60, 61, 90, 91, 400]):
            _aged(practice, physician, f"0123456789ABCDEF{n:04d}", days)
        _aged(practice, physician, "0123456789ABCDEF0100", 200, ClaimStatus.PAID)
        _aged(practice, physician, "0123456789ABCDEF0101", 200, ClaimStatus.DENIED)
        _aged(practice, physician, "0123456789ABCDEF0102", 45, ClaimStatus.REJECTED)
    biller_client.get(reverse("billing:receivables"))
    with django_assert_num_queries(5):  # the sign-in's reads, then the ageing in one
        page = biller_client.get(reverse("billing:receivables"))
    listed = biller_client.get(f"{reverse('billing:money-claims')}?bucket=31-60")
    ageing = page.context["ageing"]
    assert [(c["bucket"], c["count"]) for c in ageing["totals"]] == [
        ("0-30", 2),
        ("31-60", 3),
        ("61-90", 2),
        ("90+", 2),
    ]
    assert ageing["amount"] == Decimal("90.00")
    text = page.content.decode()
    oldest = f"{reverse('billing:money-claims')}?month=2026-09&amp;bucket=90%2B"
    assert oldest in text
    followed = biller_client.get(oldest.replace("&amp;", "&"))
    assert len(followed.context["page"].object_list) == 2
    assert listed.status_code == 200
    assert len(listed.context["page"].object_list) == 3
    assert "rejected" in listed.content.decode()


def test_the_claims_behind_a_figure_are_filtered_and_audited(practice, biller, biller_client, sent):
    _import(practice, biller, "835.x12")
    url = f"{reverse('billing:money-claims')}?month=2026-09&status=paid&status=denied"
    page = biller_client.get(url)
    assert {c.pk for c in page.context["page"]} == {c.pk for c in sent}
    assert audited("claim.list", patient_id=sent[2].patient_id)
    assert biller_client.get(f"{reverse('billing:money-claims')}?month=2026-13").status_code == 404
    assert biller_client.get(f"{reverse('billing:money-claims')}?bucket=7").status_code == 404


# --- API ------------------------------------------------------------------------------------


def test_the_api_imports_an_835_once(practice, biller, sent):
    client = token_client(biller)
    response = client.post(LIST_URL, x12("835.x12"), content_type="text/plain")
    assert response.status_code == 201
    body = response.json()
    assert (body["trace_number"], body["total_paid"], body["claims_unmatched"]) == (
        "EFT0000701",
        "151.33",
        1,
    )
    partly = body["claims"][1]
    assert partly["claim"] == str(sent[1].pk)
    assert partly["patient_control_number"] == NUMBERS[2]
    assert [(a["group_code"], a["reason_code"], a["amount"]) for a in partly["adjustments"]] == [
        ("CO", "45", "4.47"),
        ("PR", "2", "12.33"),
    ]
    assert body["claims"][3]["claim"] is None
    again = client.post(LIST_URL, x12("835.x12"), content_type="text/plain")
    assert again.status_code == 200
    assert again.json() == body
    assert client.get(f"{LIST_URL}{body['id']}/").json() == body


def test_the_api_refuses_a_bad_835_and_saves_nothing(biller, coordinator, sent):
    client = token_client(biller)
    response = client.post(LIST_URL, x12("999_accepted.x12"), content_type="text/plain")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("This file is a 999 implementation")
    refused = token_client(coordinator).post(LIST_URL, x12("835.x12"), content_type="text/plain")
    assert refused.status_code == 403
    json_body = client.post(LIST_URL, {"file": "x"}, format="json")
    assert json_body.status_code == 415
    assert not Remittance.objects.unscoped().exists()
    assert Claim.objects.unscoped().filter(paid_amount__gt=0).count() == 0


def test_the_api_list_has_a_fixed_query_count(practice, biller, sent, django_assert_num_queries):
    for n in range(12):
        text = x12("835.x12").replace("EFT0000701", f"EFT{n:07d}")
        _import(practice, biller, "", text)
    client = token_client(biller)
    client.get(LIST_URL)
    with django_assert_num_queries(4):
        response = client.get(f"{LIST_URL}?page_size=100")
    assert response.json()["count"] == 12
