"""The practice's billing setup: the service's rules (ZIP+4, no PO Box in the billing street,
submitter id not the NPI, an individual provider needs a physician, the Medicare payer's
kind), setup_problems, the page and the API (admins edit, billers and physicians read,
coordinators get 403; bad input saves nothing; every save audited without values)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from billing.models import BillingSetup
from billing.setup import rules, services
from billing.setup.selectors import billing_setup
from ccm.models import AuditEvent, Practice
from ccm.tenancy import practice_scope
from ccm.versioning import STALE_MESSAGE
from tests.factories import PayerFactory
from tests.helpers import assert_form_error, token_client

URL = "/billing/setup/"
API = "/api/v1/billing/setup/"
PAY_TO = {"line1": "PO Box 4410", "city": "Springfield", "state": "NY", "postal_code": "12345"}


@pytest.fixture(autouse=True)
def _tax_id(practice):
    """The fixture practice has what 2010AA needs besides the setup (an EIN)."""
    Practice.objects.filter(pk=practice.pk).update(tax_id="12-3456789")
    practice.refresh_from_db()


@pytest.fixture
def mac(practice):
    return PayerFactory(
        practice=practice, name="Noridian JE Part B", payer_id="01112", kind="medicare"
    )


def values(mac, **changes: Any) -> dict[str, Any]:
    """A valid setup as the page posts it (strings; the payer and practitioner by id)."""
    data = {
        "submitter_id": "CM00123",
        "submitter_qualifier": "ZZ",
        "submitter_name": "Sunrise Clinic",
        "contact_name": "Blair Biller",
        "contact_phone": "(555) 010-0100",
        "receiver_id": "01112",
        "receiver_qualifier": "ZZ",
        "receiver_name": "Noridian JE Part B",
        "usage": "T",
        "medicare_payer": str(mac.pk),
        "provider_type": "organization",
        "individual_practitioner": "",
        "accepts_assignment": "on",
        "address_line1": "100 Main Street",
        "address_line2": "Suite 200",
        "city": "Springfield",
        "state": "NY",
        "postal_code": "12345-0100",
        "pay_to_line1": "",
        "pay_to_line2": "",
        "pay_to_city": "",
        "pay_to_state": "",
        "pay_to_postal_code": "",
    }
    data.update(changes)
    return data


def body(mac, **changes: Any) -> dict[str, Any]:
    """The same setup as the API takes it (JSON types; the pay-to address an object)."""
    data: dict[str, Any] = {k: v for k, v in values(mac).items() if not k.startswith("pay_to")}
    data["accepts_assignment"] = True
    data["individual_practitioner"] = None
    data["pay_to"] = None
    data.update(changes)
    return data


def service_data(mac, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = values(mac, accepts_assignment=True, individual_practitioner=None)
    data["medicare_payer"] = mac
    data.update(changes)
    return data


def save(practice, actor, data):
    with practice_scope(practice):
        return services.billing_setup_save(practice=practice, actor=actor, data=data)


def refused(practice, actor, data) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        save(practice, actor, data)
    assert not BillingSetup.objects.unscoped().exists()
    return caught.value.message_dict


def stored(practice) -> BillingSetup | None:
    with practice_scope(practice):
        return billing_setup(practice)


def events(practice, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_practice(practice).filter(action=action))


def api(membership) -> APIClient:
    client = APIClient()
    client.force_login(membership.user)
    return client


# --- The service's rules ---------------------------------------------------------------------


def test_a_valid_setup_is_saved_once_per_practice(practice, admin, mac):
    changes = save(practice, admin, service_data(mac, postal_code="123450100"))
    setup = stored(practice)
    assert setup is not None
    assert setup.postal_code == "12345-0100"  # nine digits, shown with the dash
    assert setup.medicare_payer == mac
    assert setup.updated_by == admin
    assert "submitter_id" in changes
    save(practice, admin, service_data(mac, submitter_name="Sunrise Clinic PC"))
    assert BillingSetup.objects.unscoped().count() == 1
    assert stored(practice).submitter_name == "Sunrise Clinic PC"


def test_a_five_digit_zip_is_refused_with_the_zip_plus_4_message(practice, admin, mac):
    errors = refused(practice, admin, service_data(mac, postal_code="12345"))
    assert errors == {"postal_code": [rules.ZIP4_MESSAGE]}


@pytest.mark.parametrize("street", ["PO Box 12", "P.O. Box 7", "Post Office Box 3", "Box 44"])
def test_a_po_box_is_refused_in_the_billing_street(practice, admin, mac, street):
    errors = refused(practice, admin, service_data(mac, address_line1=street))
    assert errors == {"address_line1": [rules.PO_BOX_MESSAGE]}


def test_a_po_box_is_fine_in_the_pay_to_address(practice, admin, mac):
    pay_to = {
        "pay_to_line1": "PO Box 4410",
        "pay_to_city": "Springfield",
        "pay_to_state": "ny",
        "pay_to_postal_code": "12345",
    }
    save(practice, admin, service_data(mac, **pay_to))
    setup = stored(practice)
    assert (setup.pay_to_line1, setup.pay_to_state, setup.pay_to_postal_code) == (
        "PO Box 4410",
        "NY",
        "12345",
    )


def test_the_pay_to_address_is_all_or_nothing(practice, admin, mac):
    errors = refused(practice, admin, service_data(mac, pay_to_line1="PO Box 4410"))
    assert errors == {
        name: [services.PAY_TO_INCOMPLETE_MESSAGE]
        for name in ("pay_to_city", "pay_to_state", "pay_to_postal_code")
    }
    whole = {"pay_to_line1": "PO Box 1", "pay_to_city": "X", "pay_to_state": "NY"}
    errors = refused(practice, admin, service_data(mac, **whole, pay_to_postal_code="1234"))
    assert errors == {"pay_to_postal_code": [services.PAY_TO_ZIP_MESSAGE]}


def test_the_practice_npi_is_refused_as_submitter_id(practice, admin, mac):
    errors = refused(practice, admin, service_data(mac, submitter_id=practice.billing_npi))
    assert errors == {"submitter_id": [rules.SUBMITTER_MESSAGE]}


def test_the_individual_practitioners_npi_is_refused_as_submitter_id(
    practice, admin, physician, mac
):
    data = service_data(
        mac,
        submitter_id=physician.npi,
        provider_type="individual",
        individual_practitioner=physician,
    )
    assert refused(practice, admin, data) == {"submitter_id": [rules.SUBMITTER_MESSAGE]}


def test_an_individual_provider_needs_an_active_physician_with_an_npi(
    practice, admin, physician, coordinator, mac
):
    individual = service_data(mac, provider_type="individual")
    expected = {"individual_practitioner": [services.PRACTITIONER_MESSAGE]}
    assert refused(practice, admin, individual) == expected
    assert refused(practice, admin, {**individual, "individual_practitioner": coordinator}) == (
        expected
    )
    physician.is_active = False
    assert refused(practice, admin, {**individual, "individual_practitioner": physician}) == (
        expected
    )
    physician.is_active = True
    save(practice, admin, {**individual, "individual_practitioner": physician})
    assert stored(practice).individual_practitioner == physician


def test_an_organisation_keeps_no_individual_practitioner(practice, admin, physician, mac):
    save(practice, admin, service_data(mac, individual_practitioner=physician))
    assert stored(practice).individual_practitioner is None


@pytest.mark.parametrize("kind", ["medicare_advantage", "medicaid", "commercial"])
def test_the_medicare_payer_must_be_of_the_medicare_kind(practice, admin, kind):
    plan = PayerFactory(practice=practice, kind=kind)
    errors = refused(practice, admin, service_data(plan))
    assert errors == {"medicare_payer": [services.MEDICARE_PAYER_MESSAGE]}


def test_the_medicare_payer_is_required_active_and_of_the_practice(
    practice, other_practice, admin, mac
):
    expected = {"medicare_payer": [services.MEDICARE_PAYER_MESSAGE]}
    assert refused(practice, admin, service_data(mac, medicare_payer=None)) == expected
    theirs = PayerFactory(practice=other_practice, kind="medicare")
    assert refused(practice, admin, service_data(theirs)) == expected
    mac.is_active = False
    assert refused(practice, admin, service_data(mac)) == expected


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("submitter_id", "CM-00123", rules.SUBMITTER_MESSAGE),
        ("submitter_id", "C", rules.SUBMITTER_MESSAGE),
        ("receiver_id", "0111*2", rules.RECEIVER_MESSAGE),
        ("receiver_id", "0" * 16, rules.RECEIVER_MESSAGE),
        ("submitter_name", "", services.REQUIRED_MESSAGE),
        ("submitter_name", "Sunrise~Clinic", services.TEXT_MESSAGE),
        ("contact_name", "Zoë Biller", services.TEXT_MESSAGE),
        ("receiver_name", "x" * 61, services.TOO_LONG_MESSAGE.format(limit=60)),
        ("contact_phone", "555-0100", services.PHONE_MESSAGE),
        ("contact_phone", "+44 20 7946 0958", services.PHONE_MESSAGE),
        ("city", "", services.REQUIRED_MESSAGE),
        ("state", "New York", services.STATE_MESSAGE),
        ("postal_code", "", services.REQUIRED_MESSAGE),
        ("postal_code", "\u0661" * 9, rules.ZIP4_MESSAGE),  # Arabic-Indic digits
        ("usage", "X", services.CHOICE_MESSAGE),
        ("submitter_qualifier", "99", services.CHOICE_MESSAGE),
        ("provider_type", "group", services.CHOICE_MESSAGE),
    ],
)
def test_each_field_is_checked(practice, admin, mac, field, value, message):
    assert refused(practice, admin, service_data(mac, **{field: value})) == {field: [message]}


def test_every_problem_is_reported_at_once(practice, admin, mac):
    data = service_data(mac, postal_code="12345", address_line1="PO Box 1", medicare_payer=None)
    assert set(refused(practice, admin, data)) == {"postal_code", "address_line1", "medicare_payer"}


def test_saves_are_audited_with_field_names_only(practice, admin, mac):
    save(practice, admin, service_data(mac))
    (created,) = events(practice, "billing_setup.create")
    assert created.actor_id == admin.user_id
    assert "postal_code" in created.changed_fields
    assert not any("12345" in name or "CM00123" in name for name in created.changed_fields)
    assert save(practice, admin, service_data(mac, postal_code="12345-0100")) == []
    assert not events(practice, "billing_setup.update")  # nothing changed, nothing audited
    save(practice, admin, service_data(mac, receiver_name="Noridian", usage="P"))
    (updated,) = events(practice, "billing_setup.update")
    assert updated.changed_fields == ["receiver_name", "usage"]
    assert updated.object_id == str(stored(practice).pk)


# --- setup_problems: what the batch checks before building a file ----------------------------


def test_setup_problems_without_a_setup(practice):
    assert services.setup_problems(practice) == [services.NO_SETUP_MESSAGE]


def test_setup_problems_of_a_valid_setup_is_empty_and_takes_one_query(
    practice, admin, mac, django_assert_num_queries
):
    save(practice, admin, service_data(mac))
    with django_assert_num_queries(1):
        assert services.setup_problems(practice) == []


def test_setup_problems_rechecks_what_changed_since_the_save(practice, admin, physician, mac):
    save(practice, admin, service_data(mac, submitter_id="1679576722"))
    type(mac).objects.unscoped().filter(pk=mac.pk).update(is_active=False)
    Practice.objects.filter(pk=practice.pk).update(billing_npi="1679576722", tax_id="")
    practice.refresh_from_db()
    assert services.setup_problems(practice) == [
        rules.SUBMITTER_MESSAGE,
        services.MEDICARE_PAYER_MESSAGE,
        services.NO_TAX_ID_MESSAGE,
    ]


def test_setup_problems_sees_a_stored_zip_or_po_box_the_rules_refuse(practice, admin, mac):
    save(practice, admin, service_data(mac))
    BillingSetup.objects.unscoped().update(postal_code="12345", address_line1="PO Box 9")
    assert services.setup_problems(practice) == [rules.PO_BOX_MESSAGE, rules.ZIP4_MESSAGE]


def test_setup_problems_of_an_individual_whose_physician_left(practice, admin, physician, mac):
    data = service_data(mac, provider_type="individual", individual_practitioner=physician)
    save(practice, admin, data)
    type(physician).objects.unscoped().filter(pk=physician.pk).update(is_active=False)
    assert services.setup_problems(practice) == [services.PRACTITIONER_MESSAGE]


# --- Page ------------------------------------------------------------------------------------


def test_the_page_starts_from_the_practices_name_phone_and_address(admin_client, practice, mac):
    Practice.objects.filter(pk=practice.pk).update(
        address_line1="9 Oak Road", city="Albany", state="NY", postal_code="12207"
    )
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Not set up yet" in html
    assert 'value="9 Oak Road"' in html
    assert 'value="Sunrise Clinic"' in html
    assert f'<option value="{mac.pk}" selected>' in html  # the only Medicare payer
    assert "Save billing setup" in html
    assert 'aria-current="page">Billing setup</a>' in html
    assert not BillingSetup.objects.unscoped().exists()  # GET creates nothing


def test_admin_saves_the_setup_on_the_page(admin_client, practice, admin, mac):
    response = admin_client.post(URL, values(mac))
    assert response.status_code == 302
    setup = stored(practice)
    assert setup.submitter_id == "CM00123"
    assert setup.accepts_assignment is True
    assert setup.usage == "T"
    page = admin_client.get(URL).content.decode()
    assert "Billing setup saved" in page
    assert "Not set up yet" not in page
    assert "An 837 would be refused" not in page
    assert events(practice, "billing_setup.create")


def test_a_five_digit_zip_on_the_page_is_explained_and_nothing_is_saved(
    admin_client, practice, mac
):
    response = admin_client.post(URL, values(mac, postal_code="12345"))
    assert_form_error(response, rules.ZIP4_MESSAGE)
    html = response.content.decode()
    assert "nothing was saved" in html
    assert 'aria-invalid="true"' in html
    assert not BillingSetup.objects.unscoped().exists()
    assert not AuditEvent.objects.for_practice(practice).filter(action__startswith="billing_setup")


def test_a_po_box_in_the_billing_street_is_explained_on_the_page(admin_client, mac):
    response = admin_client.post(URL, values(mac, address_line1="PO Box 12"))
    assert_form_error(response, rules.PO_BOX_MESSAGE)
    assert not BillingSetup.objects.unscoped().exists()


def test_the_page_offers_only_active_medicare_payers(admin_client, practice, mac):
    plan = PayerFactory(practice=practice, kind="medicare_advantage", name="Plan A")
    gone = PayerFactory(practice=practice, kind="medicare", name="Old MAC", is_active=False)
    html = admin_client.get(URL).content.decode()
    assert str(mac.pk) in html
    assert str(plan.pk) not in html
    assert str(gone.pk) not in html
    response = admin_client.post(URL, values(plan))
    assert response.status_code == 400
    assert not BillingSetup.objects.unscoped().exists()


def test_an_individual_provider_on_the_page_names_its_physician(
    admin_client, practice, physician, mac
):
    response = admin_client.post(URL, values(mac, provider_type="individual"))
    assert_form_error(response, services.PRACTITIONER_MESSAGE)
    response = admin_client.post(
        URL,
        values(mac, provider_type="individual", individual_practitioner=str(physician.pk)),
    )
    assert response.status_code == 302
    assert stored(practice).individual_practitioner == physician


def test_a_stale_page_saves_nothing(admin_client, practice, admin, mac):
    opened = admin_client.get(URL).context["form"]["version"].value()
    save(practice, admin, service_data(mac, submitter_id="OTHER1"))
    response = admin_client.post(URL, {**values(mac), "version": opened})
    assert_form_error(response, STALE_MESSAGE)
    assert stored(practice).submitter_id == "OTHER1"


@pytest.mark.parametrize("client_name", ["biller_client", "physician_client"])
def test_billers_and_physicians_read_but_cannot_save(request, practice, admin, mac, client_name):
    save(practice, admin, service_data(mac))
    client = request.getfixturevalue(client_name)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="CM00123"' in html
    assert "disabled" in html
    assert "Save billing setup" not in html
    assert client.post(URL, values(mac, submitter_id="EVIL1")).status_code == 403
    assert stored(practice).submitter_id == "CM00123"


def test_coordinators_get_403(coordinator_client, mac):
    assert coordinator_client.get(URL).status_code == 403
    assert coordinator_client.post(URL, values(mac)).status_code == 403
    assert not BillingSetup.objects.unscoped().exists()


def test_other_methods_are_refused(admin_client):
    assert admin_client.put(URL).status_code == 405
    assert admin_client.delete(URL).status_code == 405


def test_the_outsider_sees_and_saves_only_its_own_practice(
    outsider_client, practice, other_practice, admin, mac
):
    save(practice, admin, service_data(mac))
    page = outsider_client.get(URL).content.decode()
    assert "CM00123" not in page
    assert "Not set up yet" in page
    response = outsider_client.post(URL, values(mac, submitter_id="OUT1"))
    assert response.status_code == 400  # our payer is no choice there
    assert stored(practice).submitter_id == "CM00123"
    assert stored(other_practice) is None


# --- API -------------------------------------------------------------------------------------


def test_api_shows_an_unconfigured_setup_with_why_no_837_can_be_built(practice, biller):
    answer = token_client(biller).get(API)
    assert answer.status_code == 200
    data = answer.json()
    assert data["configured"] is False
    assert data["problems"] == [services.NO_SETUP_MESSAGE]
    assert data["submitter_name"] == "Sunrise Clinic"
    assert data["updated_at"] is None


def test_api_put_saves_and_answers_the_setup(practice, admin, mac):
    answer = token_client(admin).put(API, body(mac), format="json")
    assert answer.status_code == 200, answer.json()
    data = answer.json()
    assert data["configured"] is True
    assert data["problems"] == []
    assert data["medicare_payer"] == str(mac.pk)
    assert data["postal_code"] == "12345-0100"
    assert answer["ETag"]
    assert stored(practice).receiver_id == "01112"
    assert events(practice, "billing_setup.create")


def test_api_bad_input_is_400_by_field_and_saves_nothing(practice, admin, mac):
    answer = token_client(admin).put(
        API, body(mac, postal_code="12345", submitter_id="C"), format="json"
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "postal_code": [rules.ZIP4_MESSAGE],
        "submitter_id": [rules.SUBMITTER_MESSAGE],
    }
    assert not BillingSetup.objects.unscoped().exists()
    assert not AuditEvent.objects.for_practice(practice).filter(action__startswith="billing_setup")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"address_line1": "PO Box 12"}, "address_line1", rules.PO_BOX_MESSAGE),
        ({"submitter_id": "1234567893"}, "submitter_id", rules.SUBMITTER_MESSAGE),
        ({"provider_type": "individual"}, "individual_practitioner", None),
        ({"pay_to": {"line1": "PO Box 1"}}, "pay_to", None),
        ({"pay_to": {**PAY_TO, "postal_code": "1234"}}, "pay_to", None),
        ({"surprise": "x"}, "surprise", "Unknown field."),
        ({"pay_to": {**PAY_TO, "country": "US"}}, "pay_to", None),
    ],
)
def test_api_refuses_each_rule(practice, admin, mac, changes, field, message):
    answer = token_client(admin).put(API, body(mac, **changes), format="json")
    assert answer.status_code == 400
    errors = answer.json()
    assert field in errors
    if message is not None:
        assert message in errors[field]
    assert not BillingSetup.objects.unscoped().exists()


def test_api_takes_the_pay_to_address_as_an_object(practice, admin, mac):
    client = token_client(admin)
    answer = client.put(API, body(mac, pay_to=PAY_TO), format="json")
    assert answer.status_code == 200
    assert answer.json()["pay_to"] == {**PAY_TO, "line2": ""}
    assert stored(practice).pay_to_line1 == "PO Box 4410"
    answer = client.put(API, body(mac), format="json")  # null: no pay-to address
    assert answer.json()["pay_to"] is None
    assert stored(practice).pay_to_city == ""


def test_api_refuses_a_medicare_payer_of_another_kind(practice, admin):
    plan = PayerFactory(practice=practice, kind="medicare_advantage")
    answer = token_client(admin).put(API, body(plan), format="json")
    assert answer.status_code == 400
    assert answer.json() == {"medicare_payer": [services.MEDICARE_PAYER_MESSAGE]}
    assert not BillingSetup.objects.unscoped().exists()


def test_api_individual_provider_with_a_physician(practice, admin, physician, coordinator, mac):
    client = token_client(admin)
    individual = body(mac, provider_type="individual")
    answer = client.put(API, {**individual, "individual_practitioner": str(coordinator.pk)})
    assert answer.status_code == 400
    assert answer.json() == {"individual_practitioner": [services.PRACTITIONER_MESSAGE]}
    answer = client.put(
        API, {**individual, "individual_practitioner": str(physician.pk)}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["individual_practitioner"] == str(physician.pk)


def test_api_another_practices_payer_or_member_is_404_and_saves_nothing(
    practice, other_practice, admin, outsider, mac
):
    theirs = PayerFactory(practice=other_practice, kind="medicare")
    client = token_client(admin)
    assert client.put(API, body(theirs), format="json").status_code == 404
    answer = client.put(
        API,
        body(mac, provider_type="individual", individual_practitioner=str(outsider.pk)),
        format="json",
    )
    assert answer.status_code == 404
    assert not BillingSetup.objects.unscoped().exists()


def test_api_the_outsider_reads_only_its_own_practice(practice, admin, outsider, mac):
    save(practice, admin, service_data(mac))
    data = token_client(outsider).get(API).json()
    assert data["configured"] is False
    assert data["submitter_id"] == ""
    assert token_client(outsider).put(API, body(mac), format="json").status_code == 404
    assert stored(practice).submitter_name == "Sunrise Clinic"


@pytest.mark.parametrize("member", ["biller", "physician"])
def test_api_billers_and_physicians_read_but_get_403_on_writes(request, practice, mac, member):
    client = token_client(request.getfixturevalue(member))
    assert client.get(API).status_code == 200
    assert client.put(API, body(mac), format="json").status_code == 403
    assert not BillingSetup.objects.unscoped().exists()


def test_api_coordinators_get_403(coordinator, mac):
    client = token_client(coordinator)
    assert client.get(API).status_code == 403
    assert client.put(API, body(mac), format="json").status_code == 403


def test_api_if_match_of_an_older_version_is_412(practice, admin, mac):
    client = token_client(admin)
    etag = client.get(API)["ETag"]
    save(practice, admin, service_data(mac))
    answer = client.put(API, body(mac, submitter_id="NEW1"), format="json", HTTP_IF_MATCH=etag)
    assert answer.status_code == 412
    assert stored(practice).submitter_id == "CM00123"
