"""Admin flows in a real browser: API token shown once and revoked, settings validation,
and the inactivity warning with 'Stay signed in'."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ccm.models import Practice
from tests.e2e.conftest import main_nav, sign_in


def test_admin_creates_a_token_sees_it_once_and_revokes_it(admin_page: Page, live_server, shot):
    page = admin_page
    main_nav(page, "API tokens")
    page.get_by_label("Name").fill("EHR sync")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("cm_")
    shot(page, "admin-token-created")
    page.goto(f"{live_server.url}/practice/tokens/")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_role("cell", name="EHR sync")).to_be_visible()
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator(".messages")).to_contain_text("revoked")
    response = page.request.get(
        f"{live_server.url}/api/v1/me/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status == 401


def test_bad_npi_is_explained_and_nothing_is_saved(admin_page: Page, shot):
    page = admin_page
    main_nav(page, "Settings")
    page.get_by_label("Billing NPI").fill("1234567890")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("form.form")).to_contain_text("check digit is wrong")
    shot(page, "admin-settings-bad-npi")
    assert Practice.objects.get(slug="demo").billing_npi == "1234567893"


def test_inactivity_warning_appears_and_stay_signed_in_hides_it(
    page: Page, live_server, demo, settings, shot, csp_violations
):
    # Warn as early as possible: the warning window covers the whole 5-minute timeout.
    settings.INACTIVITY_WARNING_SECONDS = 299
    Practice.objects.filter(slug="demo").update(inactivity_timeout_minutes=5)
    sign_in(page, live_server.url, "coordinator@demo.test", demo)
    banner = page.locator("#inactivity-warning")
    expect(banner).to_be_visible(timeout=10_000)
    expect(banner).to_contain_text(re.compile(r"signed out in [0-4]:[0-5][0-9]"))
    shot(page, "inactivity-warning")
    banner.get_by_role("button", name="Stay signed in").click()
    expect(banner).to_be_hidden()
    assert csp_violations == []
