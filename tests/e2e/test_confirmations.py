"""The four actions that lock a month or end a patient's care ask first, in a real browser:
each button leads to a page that says what will happen; walked with the keyboard only (Tab,
Enter, Escape), no CSP violation, screenshots at desktop width and at 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from billing.models import CloseStatus, MonthClose
from ccm.models import Practice
from ccm.months import month_label, previous_month
from patients.models import Condition, Consent, Patient, Status

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def admin_page(page: Page, admin_page: Page) -> Page:
    """The demo admin (the one role that may take all four actions), at desktop width."""
    page.set_viewport_size(DESKTOP)
    return page


def _enrolled_with_consent(exclude: tuple = ()) -> Patient:
    """A demo patient enrolled with live consent and two or more active chronic conditions."""
    for patient in (
        Patient.objects.unscoped()
        .filter(practice__slug="demo", status=Status.ENROLLED)
        .exclude(pk__in=exclude)
        .order_by("mrn")
    ):
        live = Consent.objects.unscoped().filter(patient=patient, revoked_on__isnull=True)
        active = Condition.objects.unscoped().filter(
            patient=patient, status="active", is_chronic=True
        )
        if live.exists() and active.count() >= 2:
            return patient
    raise AssertionError("the demo has no enrolled patient with consent and conditions")


def _tab_to(page: Page, target: Locator, limit: int = 400) -> None:
    """Press Tab until `target` has the keyboard focus (fails if it is never reached)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def _confirmation(page: Page, shot, name: str, heading: re.Pattern[str]) -> None:
    """On a confirmation page: the question has the focus; screenshots at both widths."""
    h1 = page.get_by_role("heading", level=1)
    expect(h1).to_have_text(heading)
    expect(h1).to_be_focused()
    shot(page, f"confirm-{name}-desktop")
    page.set_viewport_size(PHONE)
    shot(page, f"confirm-{name}-390")
    page.set_viewport_size(DESKTOP)


def test_the_four_confirmations_with_the_keyboard(
    admin_page: Page, live_server, shot, csp_violations
):
    page, base = admin_page, live_server.url
    patient = _enrolled_with_consent()
    other = _enrolled_with_consent(exclude=(patient.pk,))
    chart = f"{base}/patients/{patient.pk}/"
    condition = (
        Condition.objects.unscoped()
        .filter(patient=patient, status="active", is_chronic=True)
        .order_by("position")
        .first()
    )

    # Resolve a condition: Escape goes back and changes nothing; then confirm with Enter.
    page.goto(chart)
    _tab_to(page, page.get_by_role("link", name=f"Resolve {condition.icd10_code}…"))
    page.keyboard.press("Enter")
    _confirmation(page, shot, "resolve", re.compile(rf"^Resolve {re.escape(condition.icd10_code)}"))
    expect(page.locator("main")).to_contain_text("no longer counts toward R4")
    page.keyboard.press("Escape")
    expect(page).to_have_url(chart)
    condition.refresh_from_db()
    assert condition.status == "active"
    _tab_to(page, page.get_by_role("link", name=f"Resolve {condition.icd10_code}…"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    _tab_to(page, page.get_by_role("button", name=f"Resolve {condition.icd10_code}"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(chart)
    expect(page.locator(".messages")).to_contain_text("marked resolved")
    condition.refresh_from_db()
    assert condition.status == "resolved"

    # Disenroll: the reason is typed on the confirmation page, then Tab to the button.
    _tab_to(page, page.get_by_role("link", name="Disenroll…"))
    page.keyboard.press("Enter")
    _confirmation(page, shot, "disenroll", re.compile(r"^Disenroll .+\?$"))
    expect(page.locator("main")).to_contain_text("leaves CCM today")
    _tab_to(page, page.get_by_label(re.compile("Reason for disenrolling")))
    page.keyboard.type("Moved to another state")
    _tab_to(page, page.get_by_role("button", name=re.compile(r"^Disenroll ")))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Disenrolled from CCM.")
    patient.refresh_from_db()
    assert (patient.status, patient.status_reason) == (Status.DISENROLLED, "Moved to another state")

    # Revoke consent of another enrolled patient: the date is prefilled with today.
    page.goto(f"{base}/patients/{other.pk}/")
    _tab_to(page, page.get_by_role("link", name=re.compile(r"^Revoke the consent of")))
    page.keyboard.press("Enter")
    _confirmation(page, shot, "revoke", re.compile(r"^Revoke .+ CCM consent\?$"))
    expect(page.locator("main")).to_contain_text("disenrolled, effective at the end of that month")
    _tab_to(page, page.get_by_role("button", name="Revoke consent"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Consent revoked")
    assert not Consent.objects.unscoped().filter(patient=other, revoked_on__isnull=True).exists()

    # Close last month: the page shows the pre-close counts before anything locks.
    practice = Practice.objects.get(slug="demo")
    month = previous_month(practice.this_month())
    label = month_label(month)
    closes = MonthClose.objects.for_practice(practice).filter(month=month)
    page.goto(f"{base}/billing/months/{label}/")
    _tab_to(page, page.get_by_role("link", name=re.compile(r"^Close .+…$")))
    page.keyboard.press("Enter")
    _confirmation(page, shot, "close-month", re.compile(r"^Close .+\?$"))
    expect(page.locator("main")).to_contain_text("claims would be produced")
    # The pre-close groups: no billable coverage (issue 16), then the seven before it.
    expect(page.locator("table.counts tbody tr")).to_have_count(8)
    expect(page.locator("table.counts")).to_contain_text("coverage")
    assert not closes.exists()
    _tab_to(page, page.get_by_role("button", name=re.compile(r"^Close ")))
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/billing/months/{label}/")
    expect(page.locator("main")).to_contain_text("The month's time is locked", timeout=30_000)
    assert closes.get().status == CloseStatus.CLOSED
    assert csp_violations == []
