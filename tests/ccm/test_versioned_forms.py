"""Every HTML edit form of a record two people may edit carries the version it was opened
with (ccm.versioning): a stale submit shows STALE_MESSAGE (400, like the time entry page),
saves nothing and keeps the input; submitting that page again, or a fresh one, saves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django import forms
from django.test import Client
from django.urls import reverse

from billing.facts import services as facts_services
from billing.fees import services as settings_services
from billing.models import BillingPolicy, FeeSchedule, PatientMonthFacts
from careplans import services as careplan_services
from careplans.models import CarePlanTemplate, CarePlanVersion
from ccm.models import Membership
from ccm.tenancy import practice_scope
from ccm.versioning import STALE_MESSAGE, VERSION_FIELD
from patients import services as patient_services
from patients.models import Patient
from tests.factories import MembershipFactory, TaskFactory
from tests.timelog.conftest import NOW, frozen, make_enrolled  # noqa: F401 (fixture)
from timelog import services as timelog_services
from timelog.models import Task

pytestmark = pytest.mark.usefixtures("frozen")


@dataclass
class Case:
    member: Membership
    page: str  # the page the form is opened on (GET)
    action: str  # where it posts
    form_key: str  # the form's name in the page's context
    mine: Callable[[Any], dict[str, Any]]  # what the user submits, from the opened page
    theirs: Callable[[], object]  # someone else's change, through the service (scoped)
    saved: Callable[[], Any]  # the stored values the two changes differ in
    theirs_saved: Any  # after their change (and the refused stale submit)
    overwrite_saved: Any  # after the stale page is submitted again: the user's page wins
    fresh_saved: Any  # after their change, then the user's on a freshly opened page


def _as_posted(form: forms.BaseForm, **changes: Any) -> dict[str, Any]:
    """The form as a browser posts it unchanged (unticked boxes left out), plus changes."""
    data: dict[str, Any] = {}
    for field in form:
        value = field.value()
        if isinstance(field.field, forms.BooleanField):
            if value:
                data[field.html_name] = "on"
        elif field.name != VERSION_FIELD:
            data[field.html_name] = "" if value is None else str(value)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def _form_page(
    member: Membership,
    page: str,
    changes: dict[str, Any],
    theirs: Callable[[], object],
    saved: Callable[[], Any],
    expected: tuple[Any, Any, Any],
) -> Case:
    """A page whose `form` posts back to itself; the user submits it with `changes`.
    `expected`: what is saved after their change, after the overwrite, after a fresh submit."""
    theirs_saved, overwrite_saved, fresh_saved = expected
    return Case(
        member=member,
        page=page,
        action=page,
        form_key="form",
        mine=lambda response: _as_posted(response.context["form"], **changes),
        theirs=theirs,
        saved=saved,
        theirs_saved=theirs_saved,
        overwrite_saved=overwrite_saved,
        fresh_saved=fresh_saved,
    )


def _patient(practice, admin, physician, coordinator) -> Case:
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        patient.phone = "+12125550143"  # a PhoneNumber in the version (not plain JSON)
        patient.save(update_fields=["phone"])

    def theirs() -> object:
        return patient_services.patient_update(
            practice=practice, actor=physician, patient=patient, data={"city": "Shelbyville"}
        )

    def saved() -> Any:
        return Patient.objects.unscoped().get(pk=patient.pk).city

    page = reverse("patients:patient-edit", args=[patient.pk])
    expected = ("Shelbyville", "Springfield", "Springfield")
    return _form_page(coordinator, page, {"city": "Springfield"}, theirs, saved, expected)


def _editor_post(response: Any, **changes: str) -> dict[str, Any]:
    """The care plan editor as a browser posts it: every row field, texts and dates."""
    data: dict[str, Any] = {}
    for section, rows in response.context["rows"].items():
        for key, row in rows:
            data.update({f"{section}-{key}-{field}": value for field, value in row.items()})
    content = response.context["data"]
    for name in ("expected_outcome", "prognosis", "symptom_management", "caregiver"):
        data[name] = content.get(name, "")
    return {**data, **changes}


def _care_plan_draft(practice, admin, physician, coordinator) -> Case:
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        draft = careplan_services.draft_start(practice=practice, actor=coordinator, patient=patient)

    def theirs() -> object:
        return careplan_services.draft_update(
            practice=practice,
            actor=physician,
            version=draft,
            data={"prognosis": "Stable with support."},
        )

    def saved() -> Any:
        content = CarePlanVersion.objects.unscoped().get(pk=draft.pk).content
        return content["prognosis"], content["caregiver"]

    page = reverse("careplans:version-edit", args=[draft.pk])
    return Case(
        member=coordinator,
        page=page,
        action=page,
        form_key="form",
        mine=lambda response: _editor_post(response, caregiver="Daughter, daily calls."),
        theirs=theirs,
        saved=saved,
        theirs_saved=("Stable with support.", ""),
        overwrite_saved=("", "Daughter, daily calls."),
        fresh_saved=("Stable with support.", "Daughter, daily calls."),
    )


def _care_plan_template(practice, admin, physician, coordinator) -> Case:
    careplan_services.templates_ensure(practice=practice)
    template = CarePlanTemplate.objects.for_practice(practice).first()
    before = (template.expected_outcome, template.symptom_management)

    def theirs() -> object:
        return careplan_services.template_update(
            practice=practice,
            actor=admin,
            template=template,
            data={"expected_outcome": "Fewer admissions."},
        )

    def saved() -> Any:
        fields = ("expected_outcome", "symptom_management")
        return CarePlanTemplate.objects.unscoped().values_list(*fields).get(pk=template.pk)

    page = reverse("careplans:template-edit", args=[template.pk])
    expected = (
        ("Fewer admissions.", before[1]),
        (before[0], "Diary."),
        ("Fewer admissions.", "Diary."),
    )
    return _form_page(admin, page, {"symptom_management": "Diary."}, theirs, saved, expected)


def _task(practice, physician, coordinator) -> Task:
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        return TaskFactory(patient=patient, assignee=None, due_on=NOW.date())


def _reassign_to(practice, task: Task, actor: Membership, assignee: Membership) -> Callable:
    def theirs() -> object:
        return timelog_services.task_reassign(
            practice=practice, actor=actor, task=task, assignee=assignee
        )

    return theirs


def _task_reassign(practice, admin, physician, coordinator) -> Case:
    task = _task(practice, physician, coordinator)
    return Case(
        member=coordinator,
        page=reverse("timelog:task-detail", args=[task.pk]),
        action=reverse("timelog:task-reassign", args=[task.pk]),
        form_key="reassign_form",
        mine=lambda response: _as_posted(
            response.context["reassign_form"], assignee=str(physician.pk)
        ),
        theirs=_reassign_to(practice, task, admin, coordinator),
        saved=lambda: Task.objects.unscoped().get(pk=task.pk).assignee_id,
        theirs_saved=coordinator.pk,
        overwrite_saved=physician.pk,
        fresh_saved=physician.pk,
    )


def _task_complete(practice, admin, physician, coordinator) -> Case:
    task = _task(practice, physician, coordinator)
    return Case(
        member=coordinator,
        page=reverse("timelog:task-detail", args=[task.pk]),
        action=reverse("timelog:task-complete", args=[task.pk]),
        form_key="complete_form",
        mine=lambda response: _as_posted(
            response.context["complete_form"], note="Reached.", outcome="reached"
        ),
        theirs=_reassign_to(practice, task, admin, physician),
        saved=lambda: (
            Task.objects.unscoped().values_list("status", "completion_note").get(pk=task.pk)
        ),
        theirs_saved=("open", ""),
        overwrite_saved=("done", "Reached."),
        fresh_saved=("done", "Reached."),
    )


def _policy(practice, admin, physician, coordinator) -> Case:
    def theirs() -> object:
        return settings_services.policy_update(
            practice=practice, actor=admin, data={"cap_99437": 1}
        )

    def saved() -> Any:
        row = BillingPolicy.objects.for_practice(practice).first()
        return None if row is None else (row.cap_99437, row.cap_99489)

    page = reverse("billing:policy")
    expected = ((1, 10), (2, 5), (1, 5))
    return _form_page(admin, page, {"cap_99489": "5"}, theirs, saved, expected)


def _fee_schedule(practice, admin, physician, coordinator) -> Case:
    def theirs() -> object:
        return settings_services.fee_schedule_update(
            practice=practice, actor=admin, amounts={"99490": "61.00"}
        )

    def saved() -> Any:
        rows = FeeSchedule.objects.for_practice(practice)
        return {code: str(amount) for code, amount in rows.values_list("code", "amount")}

    page = reverse("billing:fee-schedule")
    expected = ({"99490": "61.00"}, {"99439": "40.00"}, {"99490": "61.00", "99439": "40.00"})
    return _form_page(admin, page, {"fee_99439": "40.00"}, theirs, saved, expected)


def _month_facts(practice, admin, physician, coordinator) -> Case:
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
    month = NOW.date().replace(day=1)

    def theirs() -> object:
        return facts_services.month_facts_set(
            practice=practice,
            actor=admin,
            patient=patient,
            month=month,
            ccm_billed_elsewhere=False,
            mdm="moderate",
        )

    def saved() -> Any:
        rows = PatientMonthFacts.objects.unscoped().filter(patient_id=patient.pk, month=month)
        return rows.values_list("ccm_billed_elsewhere", "mdm").first()

    page = reverse("billing:month-facts-edit", args=[patient.pk, f"{month:%Y-%m}"])
    expected = ((False, "moderate"), (True, ""), (True, "moderate"))
    return _form_page(physician, page, {"ccm_billed_elsewhere": True}, theirs, saved, expected)


def _practice_settings(practice, admin, physician, coordinator) -> Case:
    from ccm import services as ccm_services
    from ccm.models import Practice

    other_admin = MembershipFactory(practice=practice, role="admin")

    def theirs() -> object:
        return ccm_services.practice_update(
            practice=practice, actor=other_admin, data={"phone": "2175550199"}
        )

    def saved() -> Any:
        row = Practice.objects.get(pk=practice.pk)
        return (row.phone, row.city)

    page = reverse("ccm:practice-settings")
    expected = (
        ("2175550199", practice.city),
        (practice.phone, "Shelbyville"),
        ("2175550199", "Shelbyville"),
    )
    return _form_page(admin, page, {"city": "Shelbyville"}, theirs, saved, expected)


CASES = {
    "patient edit": _patient,
    "care plan draft": _care_plan_draft,
    "care plan template": _care_plan_template,
    "task reassign": _task_reassign,
    "task complete": _task_complete,
    "billing policy": _policy,
    "fee schedule": _fee_schedule,
    "month facts": _month_facts,
    "practice settings": _practice_settings,
}


@pytest.fixture(params=list(CASES))
def case(request, practice, admin, physician, coordinator) -> Case:
    return CASES[request.param](practice, admin, physician, coordinator)


def _client(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def test_the_form_carries_the_version_it_was_opened_with(case):
    opened = _client(case.member).get(case.page)
    assert opened.status_code == 200
    version = opened.context[case.form_key].initial[VERSION_FIELD]
    assert f'name="{VERSION_FIELD}" value="{version}"' in opened.content.decode()


def test_a_stale_submit_shows_the_message_and_saves_nothing(case, practice):
    client = _client(case.member)
    opened = client.get(case.page)
    body = {**case.mine(opened), VERSION_FIELD: opened.context[case.form_key].initial["version"]}
    with practice_scope(practice):
        case.theirs()

    stale = client.post(case.action, body)

    assert stale.status_code == 400
    assert STALE_MESSAGE in stale.content.decode()
    assert case.saved() == case.theirs_saved
    # The page comes back with the input kept and the current version: submitting it again
    # (after a look at the record) is a deliberate overwrite, and saves.
    form = stale.context[case.form_key]
    again = {**body, VERSION_FIELD: form.data[VERSION_FIELD]}
    assert client.post(case.action, again).status_code == 302
    assert case.saved() == case.overwrite_saved


def test_a_fresh_submit_saves(case, practice):
    client = _client(case.member)
    with practice_scope(practice):
        case.theirs()
    opened = client.get(case.page)
    body = {**case.mine(opened), VERSION_FIELD: opened.context[case.form_key].initial["version"]}
    assert client.post(case.action, body).status_code == 302
    assert case.saved() == case.fresh_saved


def test_a_change_to_what_a_biller_does_not_see_leaves_the_billers_page_current(
    practice, biller, physician, coordinator
):
    """The patient form's version covers the fields it shows: billers see demographics."""
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
    page = reverse("patients:patient-edit", args=[patient.pk])
    client = _client(biller)
    opened = client.get(page)
    form = opened.context["form"]
    assert "notes" not in form.fields
    body = {**_as_posted(form, city="Springfield"), VERSION_FIELD: form.initial[VERSION_FIELD]}
    with practice_scope(practice):
        patient_services.patient_update(
            practice=practice, actor=physician, patient=patient, data={"notes": "Clinical."}
        )
    assert client.post(page, body).status_code == 302
    assert Patient.objects.unscoped().values_list("city", "notes").get(pk=patient.pk) == (
        "Springfield",
        "Clinical.",
    )
