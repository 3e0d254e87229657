"""The care team in a real browser: the coordinator adds the patient's daughter as a
caregiver, records her permission to share (verbal, everything), sets a best time to call
around now, and finds the patient in the worklist's "call window open now" with "Call now".
The chart's sections, the preferences page and the worklist are photographed at desktop
and phone widths."""

from __future__ import annotations

import datetime as dt
import re
import time

from django.utils import timezone
from playwright.sync_api import Page, expect

from patients.models import CallWindow, CareContact, Patient, SharingPermission, Weekday
from tests.e2e.conftest import ARTIFACTS


def _first_enrolled() -> Patient:
    """The first enrolled demo patient by name (the worklist's first page), no windows."""
    patient = (
        Patient.objects.unscoped()
        .filter(practice__slug="demo", status="enrolled")
        .order_by("last_name", "first_name", "mrn", "pk")
        .first()
    )
    assert patient is not None
    CallWindow.objects.unscoped().filter(patient=patient).delete()
    return patient


def _around_now(patient: Patient) -> tuple[str, str, str]:
    """Today's weekday label and a window of an hour each side of now (the practice's zone),
    kept inside the day. In the day's last minutes it waits for the next day, so the window
    is still open when the worklist is read."""
    local = timezone.now().astimezone(patient.practice.zone)
    while local.hour == 23 and local.minute >= 50:
        time.sleep(10)
        local = timezone.now().astimezone(patient.practice.zone)
    start = max(local - dt.timedelta(hours=1), local.replace(hour=0, minute=0))
    end = min(local + dt.timedelta(hours=1), local.replace(hour=23, minute=59))
    return str(Weekday(local.weekday()).label), f"{start:%H:%M}", f"{end:%H:%M}"


def _photograph(page: Page, locator, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))
        box = locator.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width + 1  # fits the screen
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width + 1, f"{name} scrolls sideways at {width}px"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_coordinator_adds_the_daughter_and_calls_in_the_window(
    coordinator_page: Page, live_server, csp_violations
):
    page, base = coordinator_page, live_server.url
    patient = _first_enrolled()
    page.goto(f"{base}/patients/{patient.pk}/")
    team = page.locator("#care-team")
    team.get_by_role("link", name="Add caregiver").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Add a contact for")
    page.get_by_label("Name").fill(f"Maria {patient.last_name}")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("form.form")).to_contain_text("how the caregiver relates")
    page.get_by_label("Relationship").fill("Daughter")
    page.get_by_label("Phone").fill("(212) 555-0142")
    page.get_by_label("Language").fill("Spanish")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator(".messages")).to_contain_text("Contact added.")
    maria = CareContact.objects.unscoped().get(patient=patient, name=f"Maria {patient.last_name}")
    row = page.locator("#care-team tr", has_text=maria.name)
    expect(row).to_contain_text("No permission to share")

    row.get_by_role("link", name=f"Record a permission to share with {maria.name}").click()
    page.get_by_label("Everything about my care").check()
    page.get_by_label("How the patient told us").select_option("verbal")
    page.get_by_role("button", name="Record permission").click()
    expect(page.locator(".messages")).to_contain_text("Permission to share recorded.")
    row = page.locator("#care-team tr", has_text=maria.name)
    expect(row).to_contain_text("May share Everything about my care")
    assert SharingPermission.objects.unscoped().get(contact=maria).scopes == ["all"]
    _photograph(page, page.locator("#care-team"), "careteam-chart")

    day, start, end = _around_now(patient)
    page.locator("#preferences").get_by_role("link", name="Edit preferences").click()
    page.get_by_label("From").fill(start)
    page.get_by_label("To:", exact=True).fill(end)
    page.get_by_role("button", name="Add window").click()
    expect(page.get_by_role("alert")).to_contain_text("it was not added")
    page.get_by_label(day, exact=True).check()
    page.get_by_role("button", name="Add window").click()
    expect(page.locator(".messages")).to_contain_text("Call window added.")
    _photograph(page, page.locator("main"), "careteam-preferences")

    page.goto(f"{base}/worklist/?who=all")
    page.get_by_label("Call window").select_option("open")
    expect(page).to_have_url(re.compile(r"call_window=open"))
    row = page.locator("#worklist tr", has_text=f"{patient.last_name}, {patient.first_name}")
    expect(row).to_contain_text("Call now")
    _photograph(page, page.locator("#worklist"), "careteam-worklist")
    assert csp_violations == []
