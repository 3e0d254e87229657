"""Contact attempts in a real browser (issue 17): the coordinator logs two unanswered calls
(no answer, voicemail) from the chart, the worklist shows them as unanswered this month, then
a reached call to the patient's daughter (who may be told about the care plan); the chart
shows "Last reached". Photographed at desktop and phone widths."""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Page, expect

from billing.progress.services import progress_refresh
from ccm.models import Membership
from ccm.tenancy import practice_scope
from patients.models import Patient, Status
from tests.e2e.conftest import ARTIFACTS, main_nav, recent_local_times
from tests.factories import CareContactFactory, SharingPermissionFactory
from timelog.models import ContactAttempt


def _patient_with_daughter() -> Patient:
    """One of the demo coordinator's enrolled patients, with no attempts this month (the demo's
    are removed), and a daughter who may be told about the care plan."""
    coordinator = Membership.objects.unscoped().get(user__email="coordinator@demo.test")
    practice = coordinator.practice
    with practice_scope(practice):
        patient = (
            Patient.objects.filter(status=Status.ENROLLED, coordinator=coordinator)
            .order_by("-mrn")
            .first()
        )
        assert patient is not None
        ContactAttempt.objects.filter(patient=patient, month=practice.this_month()).delete()
        progress_refresh(practice=practice, patient_ids=[patient.pk], months=[])
        daughter = CareContactFactory(
            patient=patient, name="Rosa Delgado", relationship="Daughter", created_by=coordinator
        )
        SharingPermissionFactory(contact=daughter, recorded_by=coordinator)
    return patient


def _log(page: Page, when: dt.datetime, outcome: str, note: str, contact: str = "") -> None:
    section = page.locator("#contacts")
    section.get_by_text("Log a contact").click()
    section.get_by_label("When").fill(f"{when:%Y-%m-%dT%H:%M}")
    section.get_by_label("Outcome").select_option(outcome)
    if contact:
        section.get_by_label("Who (care contact)").select_option(label=contact)
    section.get_by_label("Note").fill(note)
    section.get_by_role("button", name="Save the contact").click()
    expect(page.locator(".messages")).to_contain_text("Contact recorded.")


def test_coordinator_logs_two_unanswered_calls_and_reaches_the_daughter(
    coordinator_page: Page, live_server, csp_violations
):
    page, base = coordinator_page, live_server.url
    patient = _patient_with_daughter()
    name = f"{patient.last_name}, {patient.first_name}"
    # Three minutes of this month, in the past (near a month's start the helper waits).
    no_answer, voicemail, reached = recent_local_times(patient.practice.zone, 3)
    chart = f"{base}/patients/{patient.pk}/"

    page.goto(chart)
    expect(page.locator("#contacts")).to_contain_text("No contact attempts this month.")
    _log(page, no_answer, "no_answer", "Rang ten times.")
    _log(page, voicemail, "voicemail", "Asked for a call back.")
    expect(page.locator("#contacts")).to_contain_text("2 unanswered this month")

    main_nav(page, "Worklist")
    row = page.locator("#worklist tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )
    expect(row).to_contain_text("2 unanswered this month")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "contacts-worklist-1280.png"), full_page=False)

    page.goto(chart)
    _log(
        page,
        reached,
        "reached",
        "Daughter will bring the glucose log on Friday.",
        contact="Rosa Delgado (Daughter)",
    )
    section = page.locator("#contacts")
    expect(section).to_contain_text(f"Last reached: {reached:%Y-%m-%d %H:%M}")
    expect(section).not_to_contain_text("unanswered this month")
    expect(section.locator("tbody tr").first).to_contain_text("Rosa Delgado")
    expect(section.locator("tbody tr").first).to_contain_text("Reached")
    expect(section.locator("tbody tr")).to_have_count(3)
    attempt = ContactAttempt.objects.unscoped().get(
        patient=patient, outcome="reached", month=reached.date().replace(day=1)
    )
    assert (attempt.party, attempt.contact.name) == ("caregiver", "Rosa Delgado")

    section.get_by_text("Log a contact").click()  # the form open too
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        section.scroll_into_view_if_needed()
        section.screenshot(path=str(ARTIFACTS / f"contacts-section-{width}.png"))
        box = section.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width + 1  # the card fits the screen

    main_nav(page, "Worklist")
    row = page.locator("#worklist tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )
    expect(row).to_contain_text(f"{reached:%Y-%m-%d}")
    expect(row).not_to_contain_text("unanswered")
    assert csp_violations == []
