"""The biller's home in a real browser: this month's numbers, the closed months' SVG chart
drawn with its nonce'd stylesheet and no CSP violation, and a number leading to its list."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from billing.close import services as billing_services
from ccm.models import Practice
from ccm.months import previous_month
from tests.e2e.conftest import sign_in_with_totp

BRAND_BLUE = "rgb(11, 92, 173)"  # CHART_STYLE's bar colour: only there if the <style> applied


def test_biller_sees_the_dashboard_and_its_chart(
    page: Page, live_server, demo, shot, csp_violations
):
    practice = Practice.objects.get(slug="demo")
    this_month = practice.this_month()
    closed = [previous_month(previous_month(this_month)), previous_month(this_month)]
    for month in closed:  # seed_demo's earlier months, closed as the biller would
        billing_services.month_close(practice_id=practice.pk, month=month)

    base = live_server.url
    sign_in_with_totp(page, base, "biller@demo.test", demo)
    expect(page).to_have_url(f"{base}/home/")

    label = f"{this_month:%Y-%m}"
    expect(page.get_by_role("heading", name=f"Billing month {label}")).to_be_visible()
    expect(page.locator("#dash-patients")).to_contain_text("enrolled")
    expect(page.locator("#dash-projected")).to_contain_text("projected")
    chart = page.locator("#dash-chart svg")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("role", "img")
    assert chart.locator("script").count() == 0
    bar = chart.locator(".bar rect").first
    expect(bar).to_be_visible()
    # The chart's <style> carries the page's nonce: the browser applied it.
    assert bar.evaluate("el => getComputedStyle(el).fill") == BRAND_BLUE
    rows = page.locator("#dash-closed tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(f"{closed[0]:%Y-%m}")
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 100
    path = shot(page, "dashboard-biller")
    assert path.exists()
    assert csp_violations == []

    # A closed month's number opens that month's billing page.
    rows.first.get_by_role("link", name=f"{closed[0]:%Y-%m}").click()
    expect(page).to_have_url(f"{base}/billing/months/{closed[0]:%Y-%m}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{closed[0]:%B %Y}")
    page.go_back()
    page.locator("#dash-patients").get_by_role("link", name=re.compile("enrolled")).click()
    expect(page).to_have_url(re.compile(r"/patients/\?status=enrolled$"))
    assert csp_violations == []
