import functools
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_htmx.jinja import htmx_script as django_htmx_script

from ccm.roles import Capability, can, capabilities_of
from ccm.tenancy import user_memberships

# The header's main navigation: (url name, label, the capability it needs or None), in order.
NAV: tuple[tuple[str, str, Capability | None], ...] = (
    ("ccm:home", "Home", None),
    ("timelog:worklist", "Worklist", None),
    ("patients:patient-list", "Patients", None),
    ("timelog:task-list", "Tasks", None),
    ("timelog:time-entry-list", "Time", None),
    ("careplans:signing-queue", "Care plans", Capability.EDIT_CLINICAL),
    ("billing:month-list", "Billing", Capability.VIEW_BILLING),
    ("careplans:template-list", "Templates", Capability.EDIT_CARE_PLAN_TEMPLATES),
    ("ccm:member-list", "Members", Capability.MANAGE_MEMBERS),
    ("ccm:practice-settings", "Settings", Capability.MANAGE_PRACTICE),
    ("ccm:token-list", "API tokens", Capability.MANAGE_API_TOKENS),
    ("ccm:audit-list", "Audit log", Capability.VIEW_AUDIT),
)

# The layout's fixed links for a signed-in member (templates/base.html: `ccm_layout.urls.home`).
LAYOUT_URLS = {
    "home": "ccm:home",
    "session_status": "ccm:session-status",
    "session_keepalive": "ccm:session-keepalive",
    "practice_switch": "ccm:practice-switch",
    "mfa_index": "mfa_index",
    "logout": "account_logout",
}


def practice(request: HttpRequest) -> dict[str, Any]:
    """The active practice and membership, the switcher's choices, the inactivity timeout,
    and the layout's links and navigation for the member's role."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if membership is None or user is None or not user.is_authenticated:
        return {}
    prefix = get_script_prefix()
    layout = _layout(prefix, membership.role)
    return {
        "current_membership": membership,
        # What this member may do, by capability (ccm/roles.py): `perms_cm.export_claims`.
        "perms_cm": layout.capabilities,
        "current_practice": membership.practice,
        "switchable_memberships": getattr(request, "user_memberships", None)
        or user_memberships(user),
        "inactivity_timeout_seconds": membership.practice.inactivity_timeout_minutes * 60,
        "inactivity_warning_seconds": settings.INACTIVITY_WARNING_SECONDS,
        "ccm_layout": layout,
        "ccm_head": _head(prefix, settings.DEBUG),
    }


class Layout:
    """What the page layout shows a role: the same for every request of that role, so built
    once per process (per script prefix and role) instead of a dozen reverse() calls and
    capability checks on every page."""

    def __init__(self, role: str) -> None:
        self.capabilities = MappingProxyType(capabilities_of(role))
        self.urls = MappingProxyType({key: reverse(name) for key, name in LAYOUT_URLS.items()})
        links = [
            (reverse(name), label)
            for name, label, capability in NAV
            if capability is None or can(role, capability)
        ]
        self.main_nav: SafeString = format_html(
            '<nav aria-label="Main">\n        {}\n      </nav>',
            format_html_join("\n        ", '<a href="{}">{}</a>', links),
        )


@functools.lru_cache(maxsize=64)
def _layout(script_prefix: str, role: str) -> Layout:
    return Layout(role)


class Head:
    """The head's assets, as `{% static %}` and `{% htmx_script %}` write them: the same for
    every request of the process (a storage lookup and a tag's work each time otherwise)."""

    def __init__(self) -> None:
        self.app_css = static("css/app.css")
        self.app_js = static("js/app.js")
        self.htmx_script: SafeString = django_htmx_script()


@functools.lru_cache(maxsize=8)
def _head(script_prefix: str, debug: bool) -> Head:
    return Head()  # `debug`: htmx_script adds its debug script under DEBUG
