"""Audit of authentication events (logins, logouts, failures, lockouts, MFA and password changes).

Signals are the only hook Django, allauth and axes give for these; each receiver only records.
"""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from ccm import audit
from ccm.adapters import axes_username
from ccm.tenancy import user_memberships


def _record_for_user(user: Any, action: str, *, email: str = "") -> None:
    """One event per practice the user belongs to, so each practice's admins see it."""
    memberships = list(user_memberships(user)) if user is not None else []
    if not memberships:
        audit.record(practice=None, actor=user, action=action, actor_email=email)
    for m in memberships:
        audit.record(practice=m.practice, actor=user, role=m.role, action=action, obj=user)


def _user_by_email(email: str) -> Any:
    if not email:
        return None
    return get_user_model().objects.filter(email__iexact=email).first()


@receiver(user_logged_in)
def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record_for_user(user, "auth.login")


@receiver(user_logged_out)
def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        _record_for_user(user, getattr(request, "_ccm_logout_reason", "auth.logout"))


@receiver(user_login_failed)
def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any, **kwargs: Any) -> None:
    email = axes_username(request, credentials) if request is not None else ""
    _record_for_user(_user_by_email(email), "auth.login_failed", email=email)


@receiver(user_locked_out)
def on_locked_out(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    email = (username or "").lower()
    _record_for_user(_user_by_email(email), "auth.locked_out", email=email)


@receiver(authenticator_added)
def on_mfa_added(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    _record_for_user(user, f"mfa.{authenticator.type}.added")


@receiver(authenticator_removed)
def on_mfa_removed(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    _record_for_user(user, f"mfa.{authenticator.type}.removed")


@receiver(authenticator_reset)
def on_mfa_reset(sender: Any, request: Any, user: Any, authenticator: Any, **kwargs: Any) -> None:
    _record_for_user(user, f"mfa.{authenticator.type}.reset")


@receiver(password_changed)
def on_password_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record_for_user(user, "auth.password_changed")


@receiver(password_reset)
def on_password_reset(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record_for_user(user, "auth.password_reset")
