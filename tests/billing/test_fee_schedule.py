"""The practice's fee schedule (R26): page and API. Admins edit, billers and physicians read,
coordinators get 403; amounts reach the engine; every change is audited with old and new
values; bad input saves nothing; the worklist progress reconcile is queued on commit."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils.html import escape
from rest_framework.test import APIClient

from billing import rules
from billing.fees.forms import AMOUNT_FIELD_MESSAGES
from billing.fees.services import AMOUNT_MESSAGE, FEE_CODE_NAMES, fee_schedule_update
from billing.inputs import loading
from billing.models import Claim, FeeSchedule
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.billing.test_month_close import OCTOBER, _cast, _close

URL = "/billing/fees/"
API = "/api/v1/billing/fee-schedule/"
RECONCILE = "billing.progress.tasks.progress_reconcile_practice.delay"


@pytest.fixture(autouse=True)
def reconcile():
    """The progress reconcile leaves the process (a broker in production): record it."""
    with mock.patch(RECONCILE) as delay:
        yield delay


def api(membership) -> APIClient:
    client = APIClient()
    client.force_login(membership.user)
    return client


def fee_rows(practice) -> dict[str, Decimal]:
    rows = FeeSchedule.objects.for_practice(practice)
    return dict(rows.values_list("code", "amount"))


def events(practice, action: str = "fee_schedule.update") -> list[AuditEvent]:
    return list(AuditEvent.objects.for_practice(practice).filter(action=action))


def form(**amounts: str) -> dict[str, str]:
    data = {f"fee_{code}": "" for code in FEE_CODE_NAMES}
    data.update({f"fee_{code}": value for code, value in amounts.items()})
    return data


def october_total(practice, patient) -> Decimal:
    """The engine's claim amount for the patient's October, from the practice's records."""
    _patients, facts = loading.load_patient_months(
        practice=practice, patient_ids=[patient.pk], months=[OCTOBER]
    )
    return rules.evaluate(facts[(patient.pk, OCTOBER)], loading.policy(practice)).total


# --- Page ------------------------------------------------------------------------------------


def test_the_page_lists_every_billed_code_with_its_reference_amount(admin_client, practice):
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    for code in ("99490", "99439", "99491", "99437", "99487", "99489"):
        assert f'name="fee_{code}"' in html
    assert "$66.13" in html  # 99490's reference amount (spec table)
    assert "$144.29" in html  # 99487
    assert "Closed months are not affected" in html
    assert not FeeSchedule.objects.unscoped().exists()  # GET creates nothing
    assert not events(practice)


def test_admin_saves_amounts_and_the_engine_prices_with_them(
    admin_client, practice, physician, coordinator
):
    (patient,) = _cast(practice, physician, coordinator, count=1)  # 25 minutes: 99490
    assert october_total(practice, patient) == Decimal("66.13")
    response = admin_client.post(URL, form(**{"99490": "70.00", "99487": "180"}))
    assert response.status_code == 302
    assert fee_rows(practice) == {"99490": Decimal("70.00"), "99487": Decimal("180.00")}
    fees = loading.fee_schedule(practice)
    assert fees.amount("99490") == Decimal("70.00")
    assert fees.amount("99439") == Decimal("50.44")  # blank: the reference amount
    assert october_total(practice, patient) == Decimal("70.00")
    page = admin_client.get(URL).content.decode()
    assert 'value="70.00"' in page
    assert "Fee schedule saved" in page


def test_each_change_is_audited_with_code_old_and_new_value(admin_client, practice, admin):
    admin_client.post(URL, form(**{"99490": "70.00", "99487": "180.00"}))
    admin_client.post(URL, form(**{"99490": "71.50"}))  # 99487 cleared: the reference again
    first, second = sorted(events(practice), key=lambda e: e.id)
    assert first.changed_fields == ["99487:reference->180.00", "99490:reference->70.00"]
    assert second.changed_fields == ["99487:180.00->reference", "99490:70.00->71.50"]
    assert second.actor_id == admin.user_id
    assert second.role == "admin"
    assert fee_rows(practice) == {"99490": Decimal("71.50")}  # the cleared row is deleted


def test_saving_the_same_amounts_again_changes_nothing(admin_client, practice, reconcile):
    admin_client.post(URL, form(**{"99490": "70.00"}))
    response = admin_client.post(URL, form(**{"99490": "70"}))
    assert response.status_code == 302
    assert len(events(practice)) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1.00", AMOUNT_FIELD_MESSAGES["min_value"]),
        ("12.345", AMOUNT_FIELD_MESSAGES["max_decimal_places"]),
        ("sixty", AMOUNT_FIELD_MESSAGES["invalid"]),
        ("1000000.00", AMOUNT_FIELD_MESSAGES["max_digits"]),
        ("NaN", AMOUNT_FIELD_MESSAGES["invalid"]),
    ],
)
def test_a_bad_amount_is_explained_by_its_field_and_nothing_is_saved(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks, value, message
):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99439", amount="40.00"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # 99490 is fine, 99487 is not: the whole form is refused.
        response = admin_client.post(URL, form(**{"99490": "70.00", "99487": value}))
    assert response.status_code == 400
    html = response.content.decode()
    assert "nothing was saved" in html
    assert escape(message) in html
    assert 'aria-invalid="true"' in html
    assert fee_rows(practice) == {"99439": Decimal("40.00")}
    assert not events(practice)
    assert not callbacks
    reconcile.assert_not_called()


def test_the_service_refuses_what_the_form_would_let_through(admin, practice):
    with practice_scope(practice), pytest.raises(ValidationError, match="two decimals") as caught:
        fee_schedule_update(
            practice=practice, actor=admin, amounts={"99490": "1.005", "99439": 1.5}
        )
    assert caught.value.message_dict == {"99490": [AMOUNT_MESSAGE], "99439": [AMOUNT_MESSAGE]}
    with practice_scope(practice), pytest.raises(ValidationError, match="not a code"):
        fee_schedule_update(practice=practice, actor=admin, amounts={"G0506": "10.00"})
    assert not fee_rows(practice)


def test_the_reconcile_task_is_queued_on_commit_with_the_practice_id_only(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(URL, form(**{"99490": "70.00"}))
    assert len(callbacks) == 1
    reconcile.assert_not_called()  # nothing before the commit
    callbacks[0]()
    reconcile.assert_called_once_with(str(practice.pk))


def test_no_reconcile_when_nothing_changed(
    admin_client, reconcile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        admin_client.post(URL, form())
    assert not callbacks
    reconcile.assert_not_called()


@pytest.mark.parametrize("client_name", ["biller_client", "physician_client"])
def test_billers_and_physicians_read_but_cannot_save(request, practice, client_name):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99490", amount="70.00"
    )
    client = request.getfixturevalue(client_name)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "$70.00" in html
    assert "Save fee schedule" not in html
    assert 'name="fee_99490"' not in html
    assert client.post(URL, form(**{"99490": "1.00"})).status_code == 403
    assert fee_rows(practice) == {"99490": Decimal("70.00")}


def test_coordinators_get_403(coordinator_client, practice):
    assert coordinator_client.get(URL).status_code == 403
    assert coordinator_client.post(URL, form(**{"99490": "1.00"})).status_code == 403
    assert not fee_rows(practice)


def test_other_methods_are_refused(admin_client):
    assert admin_client.delete(URL).status_code == 405
    assert admin_client.put(URL).status_code == 405


def test_the_outsider_sees_and_changes_only_its_own_practice(
    admin_client, outsider_client, practice, other_practice
):
    admin_client.post(URL, form(**{"99490": "77.77"}))
    page = outsider_client.get(URL)
    assert page.status_code == 200
    assert "77.77" not in page.content.decode()
    outsider_client.post(URL, form(**{"99490": "55.55"}))
    assert fee_rows(practice) == {"99490": Decimal("77.77")}
    assert fee_rows(other_practice) == {"99490": Decimal("55.55")}
    assert loading.fee_schedule(practice).amount("99490") == Decimal("77.77")


def test_closed_months_keep_their_stored_claims(admin_client, practice, physician, coordinator):
    _cast(practice, physician, coordinator, count=2)
    _close(practice)
    before = sorted(Claim.objects.for_practice(practice).values_list("amount"))
    admin_client.post(URL, form(**{"99490": "99.00"}))
    after = sorted(Claim.objects.for_practice(practice).values_list("amount"))
    assert after == before == [(Decimal("66.13"),)]


# --- API -------------------------------------------------------------------------------------


def test_api_lists_every_code_with_reference_practice_and_effective_amount(practice, biller):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99487", amount="180.00"
    )
    body = api(biller).get(API).json()
    assert body["count"] == 6
    assert body["next"] is None
    assert [r["code"] for r in body["results"]] == list(FEE_CODE_NAMES)
    by_code = {r["code"]: r for r in body["results"]}
    assert by_code["99490"]["reference_amount"] == "66.13"
    assert by_code["99490"]["amount"] is None
    assert by_code["99490"]["effective_amount"] == "66.13"
    assert by_code["99487"]["amount"] == "180.00"
    assert by_code["99487"]["effective_amount"] == "180.00"
    assert not events(practice)


def test_api_put_replaces_the_practices_amounts(
    practice, admin, reconcile, django_capture_on_commit_callbacks
):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99487", amount="180.00"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api(admin).put(API, {"99490": "70.00", "99439": None}, format="json")
    assert response.status_code == 200
    by_code = {r["code"]: r for r in response.json()["results"]}
    assert by_code["99490"]["effective_amount"] == "70.00"
    assert by_code["99487"]["amount"] is None  # left out: back to the reference amount
    assert fee_rows(practice) == {"99490": Decimal("70.00")}
    assert loading.fee_schedule(practice).amount("99487") == Decimal("144.29")
    (event,) = events(practice)
    assert event.changed_fields == ["99487:180.00->reference", "99490:reference->70.00"]
    reconcile.assert_called_once_with(str(practice.pk))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"99490": "70.00", "99487": "-5"}, "99487"),
        ({"99490": "70.001"}, "99490"),
        ({"99490": "abc"}, "99490"),
        ({"99490": "70.00", "99999": "1.00"}, "99999"),
        (["99490", "70.00"], "detail"),
    ],
)
def test_api_put_with_bad_input_is_400_and_saves_nothing(practice, admin, body, field):
    response = api(admin).put(API, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not fee_rows(practice)
    assert not events(practice)


def test_api_roles(practice, biller, physician, coordinator):
    assert api(physician).get(API).status_code == 200
    assert api(coordinator).get(API).status_code == 403
    for reader in (biller, physician, coordinator):
        assert api(reader).put(API, {"99490": "1.00"}, format="json").status_code == 403
    assert not fee_rows(practice)


def test_api_outsider_reads_and_writes_only_its_own_practice(practice, other_practice, outsider):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99490", amount="77.77"
    )
    body = api(outsider).get(API).json()
    assert {r["amount"] for r in body["results"]} == {None}
    assert api(outsider).put(API, {"99490": "55.55"}, format="json").status_code == 200
    assert fee_rows(practice) == {"99490": Decimal("77.77")}
    assert fee_rows(other_practice) == {"99490": Decimal("55.55")}


def test_api_needs_a_signed_in_member():
    assert APIClient().get(API).status_code in (401, 403)


def test_a_misspelt_code_or_field_is_refused_and_nothing_saved(admin):
    client = api(admin)
    fees = client.put(API, {"99490x": "70.00"}, format="json")
    assert fees.status_code == 400
    assert fees.json() == {"99490x": ["Unknown field."]}
    policy = client.put("/api/v1/billing/policy/", {"cap_9437": 1}, format="json")
    assert policy.status_code == 400
    assert policy.json()["cap_9437"] == ["Unknown field."]
    assert not FeeSchedule.objects.unscoped().exists()
