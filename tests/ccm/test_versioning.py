"""ETag / If-Match on every versioned API object: the ETag changes with the object, a stale
If-Match answers 412 (JSON) and saves nothing, and If-Match stays optional."""

import datetime as dt

import pytest
from django.urls import URLPattern, get_resolver
from rest_framework.test import APIClient

from ccm.api import PRECONDITION_MESSAGE, ApiView
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.factories import TaskFactory, TimeEntryFactory
from tests.timelog.conftest import frozen, make_enrolled  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("frozen")


def _api(membership) -> APIClient:
    client = APIClient()
    client.force_login(membership.user)
    return client


def _time_entry(practice, coordinator, physician):
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        entry = TimeEntryFactory(
            patient=patient,
            performer=coordinator,
            started_at=dt.datetime(2026, 10, 20, 13, tzinfo=dt.UTC),
        )
    url = f"/api/v1/time-entries/{entry.pk}/"
    return coordinator, url, "patch", [{"minutes": 12}, {"minutes": 13}]


def _patient(practice, coordinator, physician):
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
    url = f"/api/v1/patients/{patient.pk}/"
    return coordinator, url, "patch", [{"city": "Springfield"}, {"city": "Shelbyville"}]


def _task(practice, coordinator, physician):
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        task = TaskFactory(patient=patient)
    url = f"/api/v1/tasks/{task.pk}/"
    return coordinator, url, "patch", [{"assignee": str(coordinator.pk)}, {"assignee": None}]


def _month_facts(practice, coordinator, physician):
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
    url = f"/api/v1/patients/{patient.pk}/month-facts/2026-10/"
    bodies = [
        {"ccm_billed_elsewhere": True, "mdm": None},
        {"ccm_billed_elsewhere": False, "mdm": None},
    ]
    return physician, url, "put", bodies


def _fee_schedule(practice, coordinator, physician, admin):
    return admin, "/api/v1/billing/fee-schedule/", "put", [{"99490": "60.00"}, {"99490": "61.00"}]


CASES = {
    "time entry": _time_entry,
    "patient": _patient,
    "task": _task,
    "month facts": _month_facts,
}


@pytest.fixture(params=[*CASES, "fee schedule"])
def resource(request, practice, coordinator, physician, admin):
    if request.param == "fee schedule":
        return _fee_schedule(practice, coordinator, physician, admin)
    return CASES[request.param](practice, coordinator, physician)


def test_the_etag_follows_every_change_and_a_stale_if_match_saves_nothing(resource):
    member, url, method, (first, second) = resource
    api = _api(member)
    read = api.get(url)
    assert read.status_code == 200
    etag = read.headers["ETag"]
    assert api.get(url).headers["ETag"] == etag  # stable while nothing changes

    written = getattr(api, method)(url, first, format="json", HTTP_IF_MATCH=etag)
    assert written.status_code == 200, written.content
    new = written.headers["ETag"]
    assert new != etag
    assert api.get(url).headers["ETag"] == new  # the write's answer carries the new version

    stale = getattr(api, method)(url, second, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json() == {"detail": PRECONDITION_MESSAGE}
    assert api.get(url).json() == written.json()  # nothing saved

    unconditional = getattr(api, method)(url, second, format="json")
    assert unconditional.status_code == 200  # If-Match is optional
    assert getattr(api, method)(url, first, format="json", HTTP_IF_MATCH="*").status_code == 200


def test_a_conditional_write_records_no_read_of_its_own(practice, coordinator, physician):
    """The compare reads the object in a savepoint that is rolled back: no extra audit row."""
    member, url, _method, (first, _second) = _time_entry(practice, coordinator, physician)
    api = _api(member)
    etag = api.get(url).headers["ETag"]
    reads = AuditEvent.objects.unscoped().filter(action="timeentry.read")
    before = reads.count()
    assert api.patch(url, first, format="json", HTTP_IF_MATCH=etag).status_code == 200
    assert reads.count() == before
    assert AuditEvent.objects.unscoped().filter(action="timeentry.update").count() == 1


def test_every_api_view_that_writes_one_object_is_versioned():
    """A new PATCH/PUT/DELETE endpoint without a version lock fails here."""
    unversioned = []
    for pattern in get_resolver("ccm.api_urls").url_patterns:
        view = getattr(getattr(pattern, "callback", None), "cls", None)
        if not isinstance(pattern, URLPattern) or view is None or not issubclass(view, ApiView):
            continue
        if any(hasattr(view, m) for m in ("patch", "put", "delete")) and view.version_lock is None:
            unversioned.append(view.__name__)
    assert unversioned == []


def test_a_stale_edit_page_submit_shows_the_message_and_saves_nothing(
    practice, coordinator, physician
):
    from django.test import Client
    from django.urls import reverse

    from ccm.versioning import STALE_MESSAGE
    from timelog.models import TimeEntry

    member, api_url, _method, _bodies = _time_entry(practice, coordinator, physician)
    entry_id = api_url.rstrip("/").rsplit("/", 1)[1]
    page = reverse("timelog:time-entry-edit", args=[entry_id])
    mine, theirs = Client(), Client()
    mine.force_login(member.user)
    theirs.force_login(member.user)
    opened = mine.get(page)
    assert opened.status_code == 200
    form = opened.context["form"]
    version = form.initial["version"]
    assert f'name="version" value="{version}"' in opened.content.decode()
    body = {
        "started_at": "2026-10-20 09:00",
        "minutes": 14,
        "activity": form.initial["activity"],
        "note": "",
        "version": version,
    }
    other = theirs.get(page).context["form"]
    assert (
        theirs.post(page, {**body, "minutes": 30, "version": other.initial["version"]}).status_code
        == 302
    )
    stale = mine.post(page, body)
    assert stale.status_code == 400
    assert STALE_MESSAGE in stale.content.decode()
    assert TimeEntry.objects.unscoped().get(pk=entry_id).minutes == 30
    again = mine.post(page, {**body, "version": stale.context["form"].data["version"]})
    assert again.status_code == 302  # a deliberate second submit saves
