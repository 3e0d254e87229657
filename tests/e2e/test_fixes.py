"""The walkthrough's small fixes in a real browser: claims review's select-all box, the
physician's signing queue on the home page, "My time" totals, the audit log's names."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from billing.models import Claim
from tests.e2e.conftest import ARTIFACTS, sign_in

SIZES = ((1280, 900), (390, 844))


def _shots(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"fixes-{name}-{width}.png"))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_select_all_ticks_every_claim_and_marks_them(admin_page: Page, live_server, csp_violations):
    page, base = admin_page, live_server.url
    # The demo's claims of one status, and a change their status allows.
    changes = (("ready", "submitted"), ("submitted", "paid"), ("accepted", "paid"))
    for status, target in changes:  # noqa: B007 (the pair found is used after the loop)
        claims = Claim.objects.unscoped().filter(practice__slug="demo", status=status)
        month = claims.values_list("month", flat=True).order_by("-month").first()
        if month and claims.filter(month=month).count() > 1:
            break
    else:
        raise AssertionError("the demo has no month with two claims of one status")
    page.goto(f"{base}/billing/months/{month:%Y-%m}/claims/?status={status}")
    rows = page.locator("tbody input[type=checkbox][name=claims]")
    n = rows.count()
    assert n > 1
    all_box = page.get_by_label("Select all claims on this page")
    all_box.check()
    for i in range(n):
        expect(rows.nth(i)).to_be_checked()
    rows.first.uncheck()
    assert page.evaluate("document.getElementById('select-all').indeterminate")
    expect(all_box).not_to_be_checked()
    all_box.check()
    _shots(page, "claims-select-all")
    page.get_by_label("Mark as").select_option(target)
    page.get_by_role("button", name="Update status").click()
    expect(page.locator(".messages")).to_contain_text(f"{n} claim(s) marked {target}")
    assert csp_violations == []


def test_physician_home_shows_the_signing_queue(page: Page, live_server, demo):
    base = live_server.url
    sign_in(page, base, "physician@demo.test", demo)
    page.goto(f"{base}/home/")
    panel = page.locator("section", has=page.get_by_role("heading", name="Care plans to sign"))
    expect(panel).to_contain_text("waiting for a signature")
    _shots(page, "physician-home")
    panel.get_by_role("listitem").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/care-plans/[0-9a-f-]{36}/$"))


def test_my_time_shows_totals_by_month(coordinator_page: Page, live_server):
    page, base = coordinator_page, live_server.url
    page.goto(f"{base}/time/")
    expect(page.locator("#time-total")).to_contain_text("min")
    expect(page.get_by_role("heading", name="My time by month")).to_be_visible()
    _shots(page, "my-time")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("section[aria-labelledby=by-month-h]").screenshot(
        path=str(ARTIFACTS / "fixes-my-time-by-month-390.png")
    )


def test_audit_log_shows_names_and_searches_patients(admin_page: Page, live_server):
    page, base = admin_page, live_server.url
    # Two charts read (one event each, linked by name; the list page's own read is one event
    # naming all the patients it showed, counted rather than named).
    page.goto(f"{base}/patients/")
    links = [a.get_attribute("href") or "" for a in page.locator("tbody a").all()]
    charts = [href for href in links if re.fullmatch(r"/patients/[0-9a-f-]{36}/", href)]
    for href in (charts[0], charts[-1]):
        page.goto(f"{base}{href}")
    page.goto(f"{base}/audit/?action=patient.read")
    first_name = page.locator("tbody tr td:nth-child(5) a").first
    expect(first_name).to_be_visible()
    last = page.locator("tbody tr td:nth-child(5) a").last.inner_text().split(",")[0]
    page.get_by_label("Patient").fill(last)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"patient={last}"))
    cells = page.locator("#audit-rows tbody tr td:nth-child(5)")
    expect(cells.first).to_contain_text(last)
    assert all(last in text for text in cells.all_inner_texts())
    _shots(page, "audit")
