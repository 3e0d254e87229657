"""The practice's payers on the billing settings pages and in the API: admins add and change
them (payer id unique per kind), never delete them (deactivate); billers and physicians read;
coordinators get 403; another practice's payer is 404."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from billing.models import BillingSetup
from billing.setup import services
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from patients.models import Payer
from tests.factories import CoverageFactory, PatientFactory, PayerFactory
from tests.helpers import assert_form_error, token_client

URL = "/billing/payers/"
API = "/api/v1/billing/payers/"


def edit_url(payer) -> str:
    return f"{URL}{payer.pk}/"


def payers(practice) -> list[tuple[str, str, str, bool]]:
    rows = Payer.objects.for_practice(practice).order_by("name")
    return list(rows.values_list("name", "payer_id", "kind", "is_active"))


def events(practice, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_practice(practice).filter(action=action))


def new_payer(**changes) -> dict[str, str]:
    return {"name": "Aetna Medicare", "payer_id": "60054", "kind": "medicare_advantage", **changes}


def edit_form(payer, **changes) -> dict[str, str]:
    data = {"name": payer.name, "payer_id": payer.payer_id, "kind": payer.kind}
    if payer.is_active:
        data["is_active"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def mac(practice):
    return PayerFactory(
        practice=practice, name="Noridian JE Part B", payer_id="01112", kind="medicare"
    )


def in_setup(practice, admin, mac) -> None:
    """The practice's setup sends Part B claims to `mac`."""
    BillingSetup.objects.for_practice(practice).create(
        practice=practice,
        submitter_id="CM00123",
        submitter_name="Sunrise",
        contact_name="B",
        contact_phone="5550100100",
        receiver_id="01112",
        receiver_name="Noridian",
        medicare_payer=mac,
        address_line1="1 Main Street",
        city="Springfield",
        state="NY",
        postal_code="12345-0100",
        updated_by=admin,
    )


# --- Service ---------------------------------------------------------------------------------


def test_a_payer_id_is_unique_per_practice_and_kind(practice, other_practice, admin, mac):
    with practice_scope(practice), pytest.raises(ValidationError) as caught:
        services.payer_create(
            practice=practice, actor=admin, name="Noridian again", payer_id="01112", kind="medicare"
        )
    assert caught.value.message_dict == {
        "payer_id": [
            services.PAYER_DUPLICATE_MESSAGE.format(
                kind="Medicare Part B contractor (MAC)", payer_id="01112"
            )
        ]
    }
    with practice_scope(practice):  # the same id for another kind of payer is another payer
        services.payer_create(
            practice=practice, actor=admin, name="Noridian MA", payer_id="01112", kind="commercial"
        )
    PayerFactory(practice=other_practice, payer_id="01112", kind="medicare")  # another practice
    assert len(payers(practice)) == 2


@pytest.mark.parametrize(
    "payer_id", ["1", "AB-12", "01 112", "x" * 81, "\uff11\uff12\uff13"]
)  # full-width digits last
def test_a_payer_id_is_2_to_80_letters_and_digits(practice, admin, payer_id):
    with practice_scope(practice), pytest.raises(ValidationError) as caught:
        services.payer_create(
            practice=practice, actor=admin, name="X", payer_id=payer_id, kind="other"
        )
    assert caught.value.message_dict == {"payer_id": [services.PAYER_ID_MESSAGE]}
    assert not payers(practice)


def test_a_payer_on_coverage_keeps_its_kind(practice, admin):
    plan = PayerFactory(practice=practice, kind="medicare_advantage")
    CoverageFactory(
        patient=PatientFactory(practice=practice, part_b=False),
        payer=plan,
        kind="medicare_advantage",
        member_id="M1",
    )
    with practice_scope(practice), pytest.raises(ValidationError) as caught:
        services.payer_update(practice=practice, actor=admin, payer=plan, data={"kind": "other"})
    assert caught.value.message_dict == {"kind": [services.PAYER_KIND_IN_USE_MESSAGE]}
    with practice_scope(practice):  # renaming or deactivating it is fine
        changes = services.payer_update(
            practice=practice, actor=admin, payer=plan, data={"name": "Plan B", "is_active": False}
        )
    assert changes == ["is_active", "name"]


@pytest.mark.parametrize("data", [{"is_active": False}, {"kind": "medicare_advantage"}])
def test_the_setups_medicare_payer_stays_an_active_medicare_payer(practice, admin, mac, data):
    in_setup(practice, admin, mac)
    with practice_scope(practice), pytest.raises(ValidationError) as caught:
        services.payer_update(practice=practice, actor=admin, payer=mac, data=data)
    assert list(caught.value.message_dict.values()) == [[services.PAYER_IN_SETUP_MESSAGE]]
    assert payers(practice) == [("Noridian JE Part B", "01112", "medicare", True)]


# --- Pages -----------------------------------------------------------------------------------


def test_the_list_shows_the_practices_payers_active_first(admin_client, practice, mac):
    PayerFactory(practice=practice, name="Aardvark Old Plan", is_active=False)
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("Noridian JE Part B") < html.index("Aardvark Old Plan")
    assert "Add payer" in html
    assert edit_url(mac) in html
    assert 'aria-current="page">Payers</a>' in html


def test_the_list_page_reads_a_fixed_number_of_queries(
    admin_client, practice, django_assert_num_queries
):
    PayerFactory.create_batch(3, practice=practice)
    admin_client.get(URL)  # the session's first request stores its active membership
    # Session, user with its membership (one query), MFA check, the payers, the running timer.
    with django_assert_num_queries(5):
        admin_client.get(URL)
    PayerFactory.create_batch(12, practice=practice)
    with django_assert_num_queries(5):
        admin_client.get(URL)


def test_admin_adds_a_payer_and_it_is_audited(admin_client, practice, admin):
    response = admin_client.post(URL, new_payer())
    assert response.status_code == 302
    assert payers(practice) == [("Aetna Medicare", "60054", "medicare_advantage", True)]
    (event,) = events(practice, "payer.create")
    assert event.actor_id == admin.user_id
    assert "Payer added" in admin_client.get(URL).content.decode()


def test_a_duplicate_payer_is_explained_and_nothing_is_saved(admin_client, practice, mac):
    response = admin_client.post(URL, new_payer(payer_id="01112", kind="medicare"))
    assert_form_error(
        response,
        services.PAYER_DUPLICATE_MESSAGE.format(
            kind="Medicare Part B contractor (MAC)", payer_id="01112"
        ),
    )
    assert len(payers(practice)) == 1
    assert not events(practice, "payer.create")


def test_a_bad_payer_id_is_explained(admin_client, practice):
    assert_form_error(admin_client.post(URL, new_payer(payer_id="A")), services.PAYER_ID_MESSAGE)
    assert not payers(practice)


def test_admin_renames_and_deactivates_a_payer(admin_client, practice, mac):
    plan = PayerFactory(practice=practice, name="Plan A", payer_id="PLANA")
    response = admin_client.post(edit_url(plan), edit_form(plan, name="Plan A+", is_active=None))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.name, plan.is_active) == ("Plan A+", False)
    (event,) = events(practice, "payer.update")
    assert event.changed_fields == ["is_active", "name"]
    assert event.object_id == str(plan.pk)


def test_the_setups_payer_cannot_be_deactivated_on_the_page(admin_client, practice, admin, mac):
    in_setup(practice, admin, mac)
    response = admin_client.post(edit_url(mac), edit_form(mac, is_active=None))
    assert_form_error(response, services.PAYER_IN_SETUP_MESSAGE)
    mac.refresh_from_db()
    assert mac.is_active


@pytest.mark.parametrize("client_name", ["biller_client", "physician_client"])
def test_billers_and_physicians_read_payers_but_cannot_change_them(
    request, practice, mac, client_name
):
    client = request.getfixturevalue(client_name)
    page = client.get(URL).content.decode()
    assert "Noridian JE Part B" in page
    assert "Add payer" not in page
    assert client.post(URL, new_payer()).status_code == 403
    detail = client.get(edit_url(mac))
    assert detail.status_code == 200
    assert "Save payer" not in detail.content.decode()
    assert client.post(edit_url(mac), edit_form(mac, name="Evil")).status_code == 403
    assert payers(practice) == [("Noridian JE Part B", "01112", "medicare", True)]


def test_coordinators_get_403(coordinator_client, practice, mac):
    assert coordinator_client.get(URL).status_code == 403
    assert coordinator_client.post(URL, new_payer()).status_code == 403
    assert coordinator_client.get(edit_url(mac)).status_code == 403


def test_the_outsider_gets_404_for_our_payer_and_sees_only_its_own(
    outsider_client, practice, other_practice, mac
):
    assert outsider_client.get(edit_url(mac)).status_code == 404
    assert outsider_client.post(edit_url(mac), edit_form(mac, name="Evil")).status_code == 404
    assert "Noridian JE Part B" not in outsider_client.get(URL).content.decode()
    outsider_client.post(URL, new_payer())
    assert payers(practice) == [("Noridian JE Part B", "01112", "medicare", True)]
    assert payers(other_practice) == [("Aetna Medicare", "60054", "medicare_advantage", True)]


def test_payer_pages_refuse_other_methods(admin_client, mac):
    assert admin_client.delete(edit_url(mac)).status_code == 405
    assert admin_client.put(URL).status_code == 405


# --- API -------------------------------------------------------------------------------------


def test_api_lists_the_practices_payers(practice, other_practice, biller, mac):
    PayerFactory(practice=other_practice, name="Not ours")
    body = token_client(biller).get(API).json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row == {
        "id": str(mac.pk),
        "name": "Noridian JE Part B",
        "payer_id": "01112",
        "kind": "medicare",
        "is_active": True,
        "created_at": row["created_at"],
    }


def test_api_list_reads_a_fixed_number_of_queries(practice, biller, django_assert_num_queries):
    client = token_client(biller)
    PayerFactory.create_batch(3, practice=practice)
    client.get(API)  # the token's first use is stamped once
    # The token with its membership, its use stamp (a no-op within the minute), count, page.
    with django_assert_num_queries(4):
        client.get(API)
    PayerFactory.create_batch(20, practice=practice)
    with django_assert_num_queries(4):
        assert client.get(API).json()["count"] == 23


def test_api_creates_a_payer(practice, admin):
    answer = token_client(admin).post(API, new_payer(), format="json")
    assert answer.status_code == 201
    assert answer.json()["payer_id"] == "60054"
    assert payers(practice) == [("Aetna Medicare", "60054", "medicare_advantage", True)]
    assert events(practice, "payer.create")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payer_id": "60-054"}, "payer_id"),
        ({"kind": "medicare_part_b"}, "kind"),
        ({"name": ""}, "name"),
        ({"name": "Aetna*Medicare"}, "name"),
        ({"deleted": True}, "deleted"),
    ],
)
def test_api_bad_payer_is_400_and_saves_nothing(practice, admin, changes, field):
    answer = token_client(admin).post(API, new_payer(**changes), format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not payers(practice)


def test_api_duplicate_payer_is_400(practice, admin, mac):
    answer = token_client(admin).post(
        API, new_payer(payer_id="01112", kind="medicare"), format="json"
    )
    assert answer.status_code == 400
    assert list(answer.json()) == ["payer_id"]
    assert len(payers(practice)) == 1


def test_api_patch_changes_and_deactivates(practice, admin, mac):
    answer = token_client(admin).patch(
        f"{API}{mac.pk}/", {"name": "Noridian JE", "is_active": False}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["is_active"] is False
    assert payers(practice) == [("Noridian JE", "01112", "medicare", False)]
    assert events(practice, "payer.update")[0].changed_fields == ["is_active", "name"]


def test_api_has_no_delete(practice, admin, mac):
    assert token_client(admin).delete(f"{API}{mac.pk}/").status_code == 405
    assert len(payers(practice)) == 1


def test_api_outsider_gets_404(practice, outsider, mac):
    client = token_client(outsider)
    assert client.get(f"{API}{mac.pk}/").status_code == 404
    assert client.patch(f"{API}{mac.pk}/", {"name": "Evil"}, format="json").status_code == 404
    assert client.get(API).json()["count"] == 0
    assert payers(practice) == [("Noridian JE Part B", "01112", "medicare", True)]


@pytest.mark.parametrize("member", ["biller", "physician"])
def test_api_billers_and_physicians_get_403_on_writes(request, practice, mac, member):
    client = token_client(request.getfixturevalue(member))
    assert client.get(f"{API}{mac.pk}/").status_code == 200
    assert client.post(API, new_payer(), format="json").status_code == 403
    assert client.patch(f"{API}{mac.pk}/", {"name": "Evil"}, format="json").status_code == 403
    assert len(payers(practice)) == 1


def test_api_coordinators_get_403(coordinator, mac):
    client = token_client(coordinator)
    assert client.get(API).status_code == 403
    assert client.get(f"{API}{mac.pk}/").status_code == 403
