"""The practice's POLICY switches: page and API. Defaults shown without creating a row;
admins edit and reset; billers and physicians read; coordinators get 403; the engine loads
the new values; changes audited with old and new values; bad input saves nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.utils.html import escape

from billing import rules
from billing.fees.services import (
    POLICY_FIELDS,
    POS_MESSAGE,
    policy_defaults,
)
from billing.inputs import loading
from billing.models import BillingPolicy
from ccm.models import AuditEvent
from tests.billing.test_fee_schedule import OCTOBER, _cast, api, reconcile

URL = "/billing/policy/"
RESET = "/billing/policy/reset/"
API = "/api/v1/billing/policy/"

__all__ = ["reconcile"]  # the autouse fixture that records the queued reconcile


def rows(practice) -> list[BillingPolicy]:
    return list(BillingPolicy.objects.for_practice(practice))


def events(practice, action: str = "billing_policy.update") -> list[AuditEvent]:
    return list(AuditEvent.objects.for_practice(practice).filter(action=action))


def form(**changes: Any) -> dict[str, str]:
    """The POLICY form as a browser posts it (unchecked boxes are left out)."""
    values = {**policy_defaults(), **changes}
    data = {}
    for name, value in values.items():
        if value is True:
            data[name] = "on"
        elif value is not False:
            data[name] = str(value)
    return data


def body(**changes: Any) -> dict[str, Any]:
    return {
        **{k: str(v) if k == "date_of_service_mode" else v for k, v in policy_defaults().items()},
        **changes,
    }


def test_the_spec_defaults_are_the_engines_defaults():
    defaults = policy_defaults()
    engine = dataclasses.asdict(rules.DEFAULT_POLICY)
    assert {name: engine[name] for name in POLICY_FIELDS} == defaults


# --- Page ------------------------------------------------------------------------------------


def test_a_practice_without_settings_sees_the_defaults_and_get_creates_nothing(
    admin_client, practice
):
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "R23: complex CCM needs a care plan change in the month" in html
    assert "Spec default: off." in html
    assert "Spec default: 10." in html
    assert "This practice uses the spec's defaults" in html
    assert "Closed months are not affected" in html
    assert not rows(practice)
    assert (
        not AuditEvent.objects.for_practice(practice)
        .filter(action__startswith="billing_policy.")
        .exists()
    )


def test_admin_changes_switches_and_the_engine_loads_them(
    admin_client, practice, physician, coordinator
):
    (patient,) = _cast(practice, physician, coordinator, count=1)
    response = admin_client.post(
        URL,
        form(complex_requires_plan_change_in_month=True, cap_99489=4, place_of_service="22"),
    )
    assert response.status_code == 302
    loaded = loading.policy(practice)
    assert loaded.complex_requires_plan_change_in_month is True
    assert loaded.cap_99489 == 4
    assert loaded.place_of_service == "22"
    assert loaded.cap_99437 == 2  # untouched: the default
    _patients, facts = loading.load_patient_months(
        practice=practice, patient_ids=[patient.pk], months=[OCTOBER]
    )
    result = rules.evaluate(facts[(patient.pk, OCTOBER)], loaded)
    assert result.billable
    assert result.place_of_service == "22"  # R33: the claim now carries the practice's POS
    page = admin_client.get(URL).content.decode()
    assert "Billing policy saved" in page
    assert '<option value="22" selected>22 On campus outpatient hospital</option>' in page
    assert page.count('class="status">changed</span>') == 3  # the three settings off default


def test_the_change_is_audited_with_old_and_new_values(admin_client, practice, admin):
    admin_client.post(URL, form(cap_99489=4, exclude_all_face_to_face=False))
    (event,) = events(practice)
    assert event.changed_fields == ["cap_99489:10->4", "exclude_all_face_to_face:True->False"]
    assert event.actor_id == admin.user_id
    assert event.object_id == str(rows(practice)[0].pk)


def test_posting_the_defaults_creates_no_row_and_no_event(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert admin_client.post(URL, form()).status_code == 302
    assert not rows(practice)
    assert not events(practice)
    assert not callbacks


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cap_99489", "-1", "greater than or equal to 0"),
        ("cap_99437", "two", "Enter a whole number"),
        ("place_of_service", "1A", POS_MESSAGE),
        ("place_of_service", "00", POS_MESSAGE),  # two digits, but no CMS code: 837 fails
        ("cap_99437", "3", "R22 allows at most 2 units of 99437 a month."),
        ("cap_99437", "32767", "R22 allows at most 2 units of 99437 a month."),
        ("cap_99489", "11", "R24 allows at most 10 units of 99489 a month."),
        ("date_of_service_mode", "whenever", "Select a valid choice"),
        ("cap_99489", "", "This field is required"),
        ("cap_99425", "3", "R44 allows at most 2 units of 99425 a month."),
        ("cap_99427", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks, field, value, message
):
    data = form(cap_99437=1)
    data[field] = value
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "nothing was saved" in html
    assert escape(message) in html
    assert not rows(practice)
    assert not events(practice)
    assert not callbacks


def test_the_reconcile_task_is_queued_on_commit(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(URL, form(visit_year_inclusive=False))
    reconcile.assert_not_called()
    assert len(callbacks) == 1
    callbacks[0]()
    reconcile.assert_called_once_with(str(practice.pk))


def test_reset_goes_back_to_the_defaults_and_is_audited(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks
):
    admin_client.post(URL, form(cap_99437=1, conditions_by_category=False))
    assert "Reset to defaults" in admin_client.get(URL).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(RESET)
    assert response.status_code == 302
    assert not rows(practice)
    assert loading.policy(practice) == rules.DEFAULT_POLICY
    (event,) = events(practice, "billing_policy.reset")
    assert event.changed_fields == ["cap_99437:1->2", "conditions_by_category:False->True"]
    reconcile.assert_called_once_with(str(practice.pk))
    assert admin_client.get(RESET).status_code == 405  # GET never resets


def test_reset_without_settings_changes_nothing(admin_client, practice):
    assert admin_client.post(RESET).status_code == 302
    assert (
        not AuditEvent.objects.for_practice(practice)
        .filter(action__startswith="billing_policy.")
        .exists()
    )


def test_choosing_the_threshold_date_mode_never_leaves_a_policy_the_engine_cannot_load(
    admin_client, practice
):
    mode = BillingPolicy.DateOfService.THRESHOLD
    response = admin_client.post(URL, form(date_of_service_mode=mode))
    loaded = loading.policy(practice)  # must not raise, whatever happened
    if response.status_code == 302:
        assert loaded.date_of_service_mode == "threshold_date"
    else:
        assert response.status_code == 400
        assert "nothing was saved" in response.content.decode()
        assert not rows(practice)


def test_an_admin_can_date_claims_by_the_threshold_date(admin_client, practice):
    admin_client.post(URL, form(date_of_service_mode=BillingPolicy.DateOfService.THRESHOLD))
    assert loading.policy(practice).date_of_service_mode == "threshold_date"


@pytest.mark.parametrize("client_name", ["biller_client", "physician_client"])
def test_billers_and_physicians_read_but_cannot_change(request, practice, client_name):
    BillingPolicy.objects.for_practice(practice).create(practice=practice, cap_99489=3)
    client = request.getfixturevalue(client_name)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="cap_99489" value="3"' in html
    assert "disabled" in html
    assert "Save policy" not in html
    assert "Reset to defaults" not in html
    assert client.post(URL, form(cap_99489=1)).status_code == 403
    assert client.post(RESET).status_code == 403
    assert rows(practice)[0].cap_99489 == 3


def test_coordinators_get_403(coordinator_client, practice):
    assert coordinator_client.get(URL).status_code == 403
    assert coordinator_client.post(URL, form(cap_99489=1)).status_code == 403
    assert coordinator_client.post(RESET).status_code == 403
    assert not rows(practice)


def test_the_outsider_changes_only_its_own_practice(
    admin_client, outsider_client, practice, other_practice
):
    admin_client.post(URL, form(cap_99489=3))
    page = outsider_client.get(URL).content.decode()
    assert 'name="cap_99489" value="10"' in page
    outsider_client.post(RESET)
    outsider_client.post(URL, form(cap_99437=0))
    assert loading.policy(practice).cap_99489 == 3
    assert loading.policy(practice).cap_99437 == 2
    assert loading.policy(other_practice).cap_99437 == 0


# --- API -------------------------------------------------------------------------------------


def test_api_reads_the_defaults_without_creating_a_row(practice, physician):
    answer = api(physician).get(API).json()
    assert answer["uses_defaults"] is True
    assert answer["cap_99489"] == 10
    assert answer["date_of_service_mode"] == "last_day_of_month"
    assert answer["defaults"]["complex_requires_plan_change_in_month"] is False
    assert not rows(practice)


def test_api_put_replaces_the_settings(
    practice, admin, reconcile, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(admin).put(
            API, body(cap_99437=1, oversight_blocks_any_practitioner=False), format="json"
        )
    assert response.status_code == 200
    answer = response.json()
    assert answer["uses_defaults"] is False
    assert answer["cap_99437"] == 1
    assert answer["defaults"]["cap_99437"] == 2
    loaded = loading.policy(practice)
    assert loaded.cap_99437 == 1
    assert loaded.oversight_blocks_any_practitioner is False
    (event,) = events(practice)
    assert event.changed_fields == [
        "cap_99437:2->1",
        "oversight_blocks_any_practitioner:True->False",
    ]
    reconcile.assert_called_once_with(str(practice.pk))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(cap_99489=-1), "cap_99489"),
        (body(place_of_service="1A"), "place_of_service"),
        (body(place_of_service="00"), "place_of_service"),  # not in the CMS POS set
        (body(cap_99437=32767), "cap_99437"),  # R22: at most 2 units
        (body(cap_99489=11), "cap_99489"),  # R24: at most 10 units
        (body(cap_99427=3), "cap_99427"),  # R44: at most 2 units
        (body(oversight_blocks_apcm="sometimes"), "oversight_blocks_apcm"),
        (body(date_of_service_mode="whenever"), "date_of_service_mode"),
        ({k: v for k, v in body().items() if k != "cap_99437"}, "cap_99437"),
        (body(cap_9489=3), "cap_9489"),
        ([1, 2], "detail"),
    ],
)
def test_api_put_with_bad_input_is_400_and_saves_nothing(practice, admin, payload, field):
    response = api(admin).put(API, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not rows(practice)
    assert not events(practice)


def test_api_roles(practice, biller, physician, coordinator):
    assert api(biller).get(API).status_code == 200
    assert api(coordinator).get(API).status_code == 403
    for member in (biller, physician, coordinator):
        assert api(member).put(API, body(cap_99489=1), format="json").status_code == 403
    assert not rows(practice)


def test_api_outsider_sees_its_own_practice(practice, outsider):
    BillingPolicy.objects.for_practice(practice).create(practice=practice, cap_99489=3)
    assert api(outsider).get(API).json()["cap_99489"] == 10


def test_r37_switch_is_a_policy_setting_that_reaches_the_engine(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks
):
    assert loading.policy(practice).simultaneous_minutes_once is True
    assert "R37: simultaneous minutes count once" in admin_client.get(URL).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(URL, form(simultaneous_minutes_once=False))
    assert loading.policy(practice).simultaneous_minutes_once is False


def test_the_database_refuses_caps_above_the_spec_and_unknown_places_of_service(practice):
    from django.db import IntegrityError, transaction

    from billing.models import BillingPolicy

    for change in (
        {"cap_99437": 3},
        {"cap_99489": 11},
        {"cap_99425": 3},
        {"cap_99427": 3},
        {"place_of_service": "00"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            BillingPolicy.objects.for_practice(practice).create(practice=practice, **change)


PROGRAM_SWITCHES = [
    ("other_care_management_blocks_apcm", False, "R39: CCM or PCM billed by another"),
    ("oversight_blocks_apcm", False, "R40: care plan oversight and ESRD services block APCM"),
    ("cap_99425", 1, "R44: most 99425 units a month"),
    ("cap_99427", 0, "R44: most 99427 units a month"),
    ("apcm_by_other_practitioner_blocks_pcm", False, "R45: APCM billed by another"),
]


@pytest.mark.parametrize(
    ("name", "value", "label"), PROGRAM_SWITCHES, ids=[p[0] for p in PROGRAM_SWITCHES]
)
def test_the_part_ii_switches_are_on_the_page_and_reach_the_engine(
    admin_client, practice, reconcile, django_capture_on_commit_callbacks, name, value, label
):
    page = admin_client.get(URL).content.decode()
    assert label in page
    assert getattr(loading.policy(practice), name) == getattr(rules.DEFAULT_POLICY, name)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(URL, form(**{name: value})).status_code == 302
    assert getattr(loading.policy(practice), name) == value
    (event,) = events(practice)
    assert event.changed_fields == [f"{name}:{getattr(rules.DEFAULT_POLICY, name)}->{value}"]


@pytest.mark.parametrize(
    ("name", "value", "_label"), PROGRAM_SWITCHES, ids=[p[0] for p in PROGRAM_SWITCHES]
)
def test_the_part_ii_switches_are_in_the_api(practice, admin, reconcile, name, value, _label):
    answer = api(admin).get(API).json()
    assert answer[name] == getattr(rules.DEFAULT_POLICY, name)
    assert answer["defaults"][name] == getattr(rules.DEFAULT_POLICY, name)
    response = api(admin).put(API, body(**{name: value}), format="json")
    assert response.status_code == 200
    assert response.json()[name] == value
    assert getattr(loading.policy(practice), name) == value


def test_every_stored_policy_setting_reaches_the_engine():
    """One list of the POLICY columns the engine reads (billing.inputs.loading.POLICY_COLUMNS,
    used by `policy()` and the one-patient refresh): every setting the page stores is in it,
    so none is silently left at the spec's default by a name that differs from rules.Policy."""
    from billing.fees.selectors import POLICY_FIELDS
    from billing.inputs.loading import POLICY_COLUMNS

    assert set(POLICY_COLUMNS) == set(POLICY_FIELDS)
