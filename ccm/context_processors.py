from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ccm.roles import capabilities_of
from ccm.tenancy import user_memberships


def practice(request: HttpRequest) -> dict[str, Any]:
    """The active practice and membership, the switcher's choices, the inactivity timeout."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is None or user is None or not user.is_authenticated:
        return {}
    return {
        "current_membership": membership,
        # What this member may do, by capability (ccm/roles.py): `perms_cm.export_claims`.
        "perms_cm": capabilities_of(membership),
        "current_practice": membership.practice,
        "switchable_memberships": getattr(request, "user_memberships", None)
        or user_memberships(user),
        "inactivity_timeout_seconds": membership.practice.inactivity_timeout_minutes * 60,
        "inactivity_warning_seconds": settings.INACTIVITY_WARNING_SECONDS,
    }
