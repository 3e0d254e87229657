"""Forced MFA set-up survives the browser's background requests (issue 14, point 2).

A browser fetches /favicon.ico, htmx polls and prefetches alongside the page the person is
looking at. None of them may replace the TOTP secret shown on the set-up page.
"""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator

from ccm.middleware import MFA_REQUIRED_MESSAGE
from tests.factories import PASSWORD, MembershipFactory, totp_code

ACTIVATE = "/accounts/2fa/totp/activate/"
# What Chromium sends with its own favicon request and with a fetch() from the page.
FAVICON_HEADERS = {"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
FETCH_HEADERS = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
PREFETCH_HEADERS = {
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Sec-Purpose": "prefetch",
}
NAVIGATION_HEADERS = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


@pytest.fixture
def new_biller(practice, client):
    """A biller of a practice requiring MFA, signed in (password confirmed), no authenticator."""
    membership = MembershipFactory(practice=practice, role="biller")
    response = client.post(
        "/accounts/login/", {"login": membership.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    # allauth asks for the password again before security settings change
    confirmed = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert confirmed.status_code == 302
    return membership


def _secret_on_screen(client) -> str:
    page = client.get(ACTIVATE, headers=NAVIGATION_HEADERS)
    assert page.status_code == 200
    return re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page.content.decode())[1]


def test_background_requests_do_not_rotate_the_secret_on_screen(new_biller, client):
    secret = _secret_on_screen(client)
    favicon = client.get("/favicon.ico", headers=FAVICON_HEADERS, follow=True)
    assert favicon.status_code == 200
    assert favicon["Content-Type"] == "image/x-icon"
    # an htmx poll, a fetch(), a prefetch of a page and of the set-up page itself
    client.get("/home/", headers={"HX-Request": "true", **FETCH_HEADERS}, follow=True)
    client.get("/billing/", headers=FETCH_HEADERS, follow=True)
    client.get("/patients/", headers=PREFETCH_HEADERS, follow=True)
    client.get(ACTIVATE, headers=PREFETCH_HEADERS, follow=True)

    with totp_code(secret) as code:
        done = client.post(ACTIVATE, {"code": code})
    assert done.status_code == 302, "the code of the secret on screen was refused"
    assert Authenticator.objects.filter(user=new_biller.user, type="totp").exists()
    assert client.get("/home/").status_code == 200


def test_reloading_the_setup_page_keeps_the_secret_until_enrolment(new_biller, client):
    first = _secret_on_screen(client)
    assert _secret_on_screen(client) == first
    with totp_code(first) as code:
        client.post(ACTIVATE, {"code": code})
    assert Authenticator.objects.filter(user=new_biller.user, type="totp").exists()


def test_background_request_is_refused_not_redirected_to_setup(new_biller, client):
    for headers in (FETCH_HEADERS, PREFETCH_HEADERS, FAVICON_HEADERS):
        response = client.get("/billing/", headers=headers)
        assert response.status_code == 403
        assert MFA_REQUIRED_MESSAGE in response.content.decode()
    htmx = client.get("/home/", headers={"HX-Request": "true"})
    assert htmx.status_code == 403
    assert htmx["HX-Redirect"] == ACTIVATE
    # a page the person opens still goes to the set-up page, with the reason shown once there
    page = client.get("/billing/", headers=NAVIGATION_HEADERS)
    assert page.status_code == 302
    assert page["Location"] == ACTIVATE
    shown = client.get(ACTIVATE).content.decode()
    assert shown.count(MFA_REQUIRED_MESSAGE) == 1


def test_favicon_is_a_real_icon_linked_from_every_page(client, coordinator_client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # ICO header
    page = coordinator_client.get("/home/").content.decode()
    assert re.search(r'<link rel="icon" href="/favicon.ico"', page)
