"""R37 in a real browser: a coordinator logs a huddle a colleague already logged; the chart
counts the shared minutes once and flags both entries."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from ccm.models import Membership, Role
from patients.models import Patient
from tests.e2e.conftest import sign_in
from tests.factories import TimeEntryFactory
from timelog.models import TimeEntry


def test_a_huddle_logged_by_two_coordinators_counts_once_on_the_chart(
    page: Page, live_server, demo, shot, csp_violations
):
    base = live_server.url
    coordinator = Membership.objects.unscoped().get(user__email="coordinator@demo.test")
    practice = coordinator.practice
    patient = (
        Patient.objects.for_practice(practice)
        .filter(status="enrolled", coordinator=coordinator)
        .order_by("mrn")
        .first()
    )
    colleague = (
        Membership.objects.for_practice(practice)
        .filter(role=Role.COORDINATOR)
        .exclude(pk=coordinator.pk)
        .first()
    ) or Membership.objects.for_practice(practice).get(role=Role.ADMIN)
    zone = ZoneInfo(practice.time_zone)
    now = dt.datetime.now(dt.UTC)
    # 40 minutes ago, but never before the practice's month began (the chart shows its month).
    month_start = now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = max(now - dt.timedelta(minutes=40), month_start).replace(second=0, microsecond=0)
    TimeEntryFactory(
        patient=patient,
        performer=colleague,
        practitioner=patient.billing_practitioner,
        started_at=start,
        minutes=15,
        activity="coordination",
        billing_month=start.astimezone(zone).date().replace(day=1),
    )

    sign_in(page, base, "coordinator@demo.test", demo)
    page.goto(f"{base}/patients/{patient.pk}/")
    before = page.locator("#time p strong").first.inner_text()

    page.locator("#time").get_by_role("link", name="Log time").click()
    page.get_by_label("Started").fill(start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Minutes").fill("15")
    page.get_by_label("Activity").select_option("coordination")
    page.get_by_label("Note").fill("Team huddle about the care plan.")
    page.get_by_role("button", name="Log time").click()

    note = page.locator("#simultaneous-note")
    expect(note).to_contain_text("R37: 15 simultaneous minutes counted once.")
    expect(page.locator("#time .flag", has_text="simultaneous")).to_have_count(3)  # note + 2
    assert int(page.locator("#time p strong").first.inner_text()) == int(before)
    assert TimeEntry.objects.unscoped().filter(patient=patient, started_at=start).count() == 2
    shot(page, "chart-simultaneous-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "chart-simultaneous-390")
    assert csp_violations == []
