"""Usual charges (837P SV102): per billed code, above 0.00; blank charges the fee schedule
amount (the practice's, else the reference). Page and API: admins edit, billers and
physicians read, coordinators get 403; bad input saves nothing; changes audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape

from billing.fees.selectors import FEE_CODE_NAMES
from billing.models import FeeSchedule, UsualCharge
from billing.setup import services
from billing.setup.forms import CHARGE_FIELD_MESSAGES
from billing.setup.selectors import usual_charge_list, usual_charges
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.helpers import token_client

URL = "/billing/charges/"
API = "/api/v1/billing/usual-charges/"


def charges(practice) -> dict[str, Decimal]:
    return dict(UsualCharge.objects.for_practice(practice).values_list("code", "amount"))


def form(**amounts: str) -> dict[str, str]:
    data = {f"charge_{code}": "" for code in FEE_CODE_NAMES}
    data.update({f"charge_{code}": value for code, value in amounts.items()})
    return data


def events(practice) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_practice(practice).filter(action="usual_charges.update"))


def update(practice, actor, amounts):
    with practice_scope(practice):
        return services.usual_charges_update(practice=practice, actor=actor, amounts=amounts)


# --- Selector and service --------------------------------------------------------------------


def test_a_blank_usual_charge_charges_the_fee_schedule_amount(practice, admin):
    assert usual_charges(practice)["99490"] == Decimal("66.13")  # the reference amount
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99490", amount="70.00"
    )
    assert usual_charges(practice)["99490"] == Decimal("70.00")  # the practice's fee
    update(practice, admin, {"99490": "76.00"})
    amounts = usual_charges(practice)
    assert amounts["99490"] == Decimal("76.00")
    assert amounts["99439"] == Decimal("50.44")
    assert set(amounts) == set(FEE_CODE_NAMES)
    (row,) = [r for r in usual_charge_list(practice=practice) if r.code == "99490"]
    assert (row.fee_amount, row.amount, row.effective_amount) == (
        Decimal("70.00"),
        Decimal("76.00"),
        Decimal("76.00"),
    )


@pytest.mark.parametrize("value", ["0", "0.00", "-1", "12.345", "NaN", 1.5, "abc"])
def test_a_usual_charge_is_above_zero_in_whole_cents(practice, admin, value):
    with pytest.raises(ValidationError) as caught:
        update(practice, admin, {"99490": "76.00", "99439": value})
    assert caught.value.message_dict == {"99439": [services.CHARGE_MESSAGE]}
    assert not charges(practice)


def test_only_billed_codes_take_a_usual_charge(practice, admin):
    with pytest.raises(ValidationError) as caught:
        update(practice, admin, {"G0506": "10.00"})
    assert caught.value.message_dict == {
        "G0506": [services.UNKNOWN_CODE_MESSAGE.format(code="G0506")]
    }


def test_changes_are_audited_with_code_old_and_new(practice, admin):
    update(practice, admin, {"99490": "76.00", "99487": "166"})
    update(practice, admin, {"99490": "77.00"})
    assert update(practice, admin, {"99490": "77"}) == []  # nothing changed: no event
    first, second = sorted(events(practice), key=lambda e: e.id)
    assert first.changed_fields == ["99487:fee schedule->166.00", "99490:fee schedule->76.00"]
    assert second.changed_fields == ["99487:166.00->fee schedule", "99490:76.00->77.00"]
    assert charges(practice) == {"99490": Decimal("77.00")}


# --- Page ------------------------------------------------------------------------------------


def test_the_page_shows_the_fee_schedule_amount_beside_each_code(admin_client, practice):
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    for code in FEE_CODE_NAMES:
        assert f'name="charge_{code}"' in html
    assert "$66.13" in html
    assert 'aria-current="page">Usual charges</a>' in html
    assert not UsualCharge.objects.unscoped().exists()


def test_admin_saves_usual_charges(admin_client, practice, admin):
    response = admin_client.post(URL, form(**{"99490": "76.00", "99487": "166"}))
    assert response.status_code == 302
    assert charges(practice) == {"99490": Decimal("76.00"), "99487": Decimal("166.00")}
    page = admin_client.get(URL).content.decode()
    assert "Usual charges saved" in page
    assert 'data-charged="99490">$76.00' in page
    assert 'data-charged="99439">$50.44' in page
    assert events(practice)[0].actor_id == admin.user_id


def test_a_zero_charge_is_explained_and_nothing_is_saved(admin_client, practice):
    response = admin_client.post(URL, form(**{"99490": "76.00", "99439": "0"}))
    assert response.status_code == 400
    html = response.content.decode()
    assert escape(CHARGE_FIELD_MESSAGES["min_value"]) in html
    assert "nothing was saved" in html
    assert not charges(practice)
    assert not events(practice)


@pytest.mark.parametrize("client_name", ["biller_client", "physician_client"])
def test_billers_and_physicians_read_but_cannot_save(request, practice, admin, client_name):
    update(practice, admin, {"99490": "76.00"})
    client = request.getfixturevalue(client_name)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "$76.00" in html
    assert "Save usual charges" not in html
    assert client.post(URL, form(**{"99490": "1.00"})).status_code == 403
    assert charges(practice) == {"99490": Decimal("76.00")}


def test_coordinators_get_403(coordinator_client, practice):
    assert coordinator_client.get(URL).status_code == 403
    assert coordinator_client.post(URL, form(**{"99490": "1.00"})).status_code == 403


def test_the_outsider_changes_only_its_own_practice(
    admin, outsider_client, practice, other_practice
):
    update(practice, admin, {"99490": "76.00"})
    assert "76.00" not in outsider_client.get(URL).content.decode()
    outsider_client.post(URL, form(**{"99490": "55.55"}))
    assert charges(practice) == {"99490": Decimal("76.00")}
    assert charges(other_practice) == {"99490": Decimal("55.55")}


# --- API -------------------------------------------------------------------------------------


def test_api_lists_fee_schedule_amount_usual_charge_and_charged(practice, admin, biller):
    update(practice, admin, {"99487": "166.00"})
    body = token_client(biller).get(API).json()
    assert body["count"] == len(FEE_CODE_NAMES)
    by_code = {row["code"]: row for row in body["results"]}
    assert by_code["99487"] == {
        "code": "99487",
        "description": by_code["99487"]["description"],
        "fee_amount": "144.29",
        "amount": "166.00",
        "effective_amount": "166.00",
    }
    assert by_code["99490"]["amount"] is None
    assert by_code["99490"]["effective_amount"] == "66.13"


def test_api_put_replaces_the_charges(practice, admin):
    update(practice, admin, {"99487": "166.00"})
    answer = token_client(admin).put(API, {"99490": "76.00", "99439": None}, format="json")
    assert answer.status_code == 200
    assert charges(practice) == {"99490": Decimal("76.00")}  # 99487 left out: fee schedule


@pytest.mark.parametrize("amounts", [{"99490": "0.00"}, {"99490": "-1"}, {"G0506": "1.00"}])
def test_api_bad_amount_is_400_and_saves_nothing(practice, admin, amounts):
    update(practice, admin, {"99487": "166.00"})
    answer = token_client(admin).put(API, amounts, format="json")
    assert answer.status_code == 400
    assert list(answer.json()) == list(amounts)
    assert charges(practice) == {"99487": Decimal("166.00")}


@pytest.mark.parametrize("member", ["biller", "physician"])
def test_api_billers_and_physicians_get_403_on_writes(request, practice, member):
    client = token_client(request.getfixturevalue(member))
    assert client.get(API).status_code == 200
    assert client.put(API, {"99490": "1.00"}, format="json").status_code == 403
    assert not charges(practice)


def test_api_coordinators_get_403(coordinator):
    assert token_client(coordinator).get(API).status_code == 403


def test_api_outsider_sees_its_own_practice(practice, admin, outsider):
    update(practice, admin, {"99490": "76.00"})
    body = token_client(outsider).get(API).json()
    assert {row["amount"] for row in body["results"]} == {None}
