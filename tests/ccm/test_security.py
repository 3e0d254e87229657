import os
import re
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from ccm.middleware import MFA_REQUIRED_MESSAGE, TIMED_OUT_MESSAGE
from ccm.models import AuditEvent
from tests.factories import PASSWORD, totp_code


def _login(client, email, password=PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


# --- MFA ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "biller"])
def test_admin_or_biller_without_mfa_is_sent_to_mfa_setup_first(request, client, role, practice):
    from tests.factories import MembershipFactory

    membership = MembershipFactory(practice=practice, role=role)
    client.force_login(membership.user)
    for url in ("/home/", "/practice/members/", "/audit/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/2fa/totp/activate/"
    follow = client.get("/home/", follow=True)
    assert MFA_REQUIRED_MESSAGE in follow.content.decode()
    assert client.get("/api/v1/me/").status_code == 403


def test_coordinator_without_mfa_is_not_forced(coordinator_client):
    assert coordinator_client.get("/home/").status_code == 200


def test_mfa_is_not_forced_when_the_practice_does_not_require_it(client, practice):
    from tests.factories import MembershipFactory

    practice.mfa_required = False
    practice.save()
    membership = MembershipFactory(practice=practice, role="admin")
    client.force_login(membership.user)
    assert client.get("/home/").status_code == 200


def test_login_with_mfa_asks_for_the_code_before_signing_in(admin, client):
    from allauth.mfa.models import Authenticator

    response = _login(client, admin.user.email)
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/home/").status_code == 302  # not signed in yet
    secret = Authenticator.objects.get(user=admin.user, type="totp").data["secret"]
    with totp_code(secret) as code:
        done = client.post("/accounts/2fa/authenticate/", {"code": code})
    assert done.status_code == 302
    assert client.get("/home/").status_code == 200
    assert AuditEvent.objects.unscoped().filter(action="auth.login", actor=admin.user).exists()


# --- Lockout (django-axes) ----------------------------------------------------------------


def test_five_failed_logins_lock_the_account_for_this_ip(coordinator, client):
    email = coordinator.user.email
    for _ in range(4):
        assert _login(client, email, "wrong-password-x").status_code == 200
    locked = _login(client, email, "wrong-password-x")
    assert locked.status_code == 429
    assert b"locked for 15 minutes" in locked.content
    # even the right password is refused while locked
    assert _login(client, email).status_code == 429
    # another IP is not locked
    assert _login(client, email, REMOTE_ADDR="10.9.9.9").status_code == 302
    assert AuditEvent.objects.unscoped().filter(action="auth.locked_out").exists()


def test_lockout_expires_after_15_minutes(coordinator, client):
    email = coordinator.user.email
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(5):
            _login(client, email, "wrong-password-x")
        assert _login(client, email).status_code == 429
        traveller.shift(timedelta(minutes=16))
        assert _login(client, email).status_code == 302


# --- Inactivity timeout ---------------------------------------------------------------------


def test_session_ends_after_the_practices_inactivity_timeout(coordinator, client):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        assert _login(client, coordinator.user.email).status_code == 302
        traveller.shift(timedelta(minutes=14))
        assert client.get("/home/").status_code == 200  # activity resets the clock
        traveller.shift(timedelta(minutes=14, seconds=59))
        assert client.get("/home/").status_code == 200
        traveller.shift(timedelta(minutes=15, seconds=1))
        response = client.get("/home/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        page = client.get(response["Location"])
        assert TIMED_OUT_MESSAGE.format(minutes=15) in page.content.decode()
        assert client.get("/home/").status_code == 302
    assert AuditEvent.objects.unscoped().filter(action="auth.timeout").count() == 1


@contextmanager
def _signed_in_with_timeout(client, member, minutes):
    """The member's practice times out after `minutes`; the member signs in with the clock
    held still; yields the traveller to move the clock."""
    member.practice.inactivity_timeout_minutes = minutes
    member.practice.save()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _login(client, member.user.email)
        yield traveller


def test_status_poll_is_not_activity_but_keepalive_is(coordinator, client):
    with _signed_in_with_timeout(client, coordinator, 5) as traveller:
        traveller.shift(timedelta(minutes=4))
        status = client.get("/session/status/").json()
        assert 55 <= status["remaining"] <= 60
        traveller.shift(timedelta(seconds=50))
        assert client.post("/session/keepalive/").json()["remaining"] == 300
        traveller.shift(timedelta(minutes=4))
        assert client.get("/home/").status_code == 200


def test_pages_carry_the_inactivity_warning_settings(coordinator_client):
    page = coordinator_client.get("/home/").content.decode()
    assert 'data-timeout="900"' in page
    assert 'id="inactivity-warning"' in page


# --- Headers, CSRF, deploy check --------------------------------------------------------------


def test_pages_send_a_strict_csp_with_a_nonce_on_every_script(coordinator_client):
    response = coordinator_client.get("/home/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    scripts = re.findall(r"<script[^>]*>", response.content.decode())
    assert scripts
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag or "src=" in tag


def test_post_without_csrf_token_is_refused(coordinator):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator.user)
    assert client.post("/session/keepalive/").status_code == 403


def _production_env(**extra):
    # SECURE_SSL_REDIRECT is left unset: production redirects to https by default.
    dev_only = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_SSL_REDIRECT"}
    env = {k: v for k, v in os.environ.items() if k not in dev_only}
    env.update(
        DEBUG="0",
        SECRET_KEY="x" * 20 + "production-secret-key-for-the-check-only-0123456789",
        ALLOWED_HOSTS="caremonth.example.org",
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/caremonth",
    )
    env.update(extra)
    return env


def test_check_deploy_reports_nothing_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def _setting(name: str, **env: str) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=settings.BASE_DIR,
        env=_production_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_redirects_to_https_unless_the_proxy_does():
    assert _setting("SECURE_SSL_REDIRECT") == "True"
    # The documented opt-out, for a TLS-terminating proxy that already redirects.
    assert _setting("SECURE_SSL_REDIRECT", SECURE_SSL_REDIRECT="0") == "False"
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=_production_env(SECURE_SSL_REDIRECT="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_https_redirect_spares_only_the_health_check(client, coordinator, settings):
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True  # what production has (the test suite speaks http)
    browser = Client()
    browser.force_login(coordinator.user)
    home = browser.get("/home/")
    assert home.status_code == 301
    assert home["Location"] == "https://testserver/home/"
    assert browser.get("/healthz").status_code == 200


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_practices_longer_timeout_is_honoured(coordinator, client):
    with _signed_in_with_timeout(client, coordinator, 60) as traveller:
        traveller.shift(timedelta(minutes=59))
        assert client.get("/home/").status_code == 200
        traveller.shift(timedelta(minutes=61))
        assert client.get("/home/").status_code == 302
