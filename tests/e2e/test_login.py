"""Main flows in a real browser: sign-in, MFA enrolment and MFA sign-in, admin pages."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in, totp_code


def test_coordinator_signs_in_and_lands_on_the_app(
    page: Page, live_server, demo, shot, csp_violations
):
    sign_in(page, live_server.url, "coordinator@demo.test", demo)
    # a coordinator's day starts on the worklist
    expect(page).to_have_url(f"{live_server.url}/worklist/")
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome, Casey Coordinator")
    expect(page.locator(".topbar")).to_contain_text("Demo Family Medicine")
    expect(page.locator(".topbar")).to_contain_text("Care coordinator")
    # coordinators do not see the admin navigation
    expect(page.get_by_role("link", name="Members")).to_have_count(0)
    shot(page, "coordinator-home")
    assert csp_violations == []


def test_wrong_password_shows_a_clear_message(page: Page, live_server, demo):
    sign_in(page, live_server.url, "coordinator@demo.test", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def test_admin_enrolls_totp_then_signs_in_with_it(
    page: Page, live_server, demo, shot, csp_violations
):
    base = live_server.url
    sign_in(page, base, "admin@demo.test", demo)
    # the demo practice requires MFA for admins: set-up comes before anything else;
    # allauth first asks to confirm the password (changing security settings)
    expect(page.locator(".messages")).to_contain_text("requires two-factor authentication")
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.goto(f"{base}/practice/members/")
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(demo)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{base}/accounts/2fa/totp/activate/")
    shot(page, "admin-mfa-setup")

    secret = page.locator("#authenticator_secret").input_value()
    used: set[str] = set()
    page.locator("input[name=code]").fill(totp_code(secret, used))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(f"{base}/accounts/2fa/totp/activate/")

    page.goto(f"{base}/practice/members/")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, base, "admin@demo.test", demo)
    expect(page).to_have_url(f"{base}/accounts/2fa/authenticate/")
    page.locator("input[name=code]").fill(totp_code(secret, used))
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{base}/home/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Audit log")).to_be_visible()
    shot(page, "admin-home")

    nav.get_by_role("link", name="Members").click()
    expect(page.get_by_role("cell", name="outsider@other.test")).to_have_count(0)
    shot(page, "admin-members")
    nav.get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit-rows")).to_contain_text("mfa.totp.added")
    shot(page, "admin-audit-log")
    assert csp_violations == []
