"""Reads of the patient's care team and contacts (external practitioners, agencies,
pharmacies, caregivers), their permissions to share, and the patient's call windows
(issue 17)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404
from patients.models import (
    CallWindow,
    CallWindowKind,
    CareContact,
    ContactCategory,
    ShareScope,
    SharingPermission,
    Weekday,
)


def care_contacts(
    *,
    practice: Practice,
    patient_id: Any,
    categories: Iterable[str] | None = None,
    active_only: bool = True,
) -> QuerySet[CareContact]:
    """The patient's contacts by category then name, optionally of some categories only."""
    found = CareContact.objects.for_practice(practice).filter(patient_id=patient_id)
    if categories is not None:
        found = found.filter(category__in=list(categories))
    if active_only:
        found = found.filter(is_active=True)
    return found.order_by("category", "name")


def caregivers(*, practice: Practice, patient_id: Any) -> QuerySet[CareContact]:
    """The patient's active caregivers and family members."""
    return care_contacts(
        practice=practice, patient_id=patient_id, categories=[ContactCategory.CAREGIVER]
    )


def permissions_for(*, practice: Practice, patient_id: Any) -> QuerySet[SharingPermission]:
    """Every permission to share the patient gave, newest first (history included)."""
    return (
        SharingPermission.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("contact")
        .order_by("-given_on", "-created_at")
    )


def may_share(*, practice: Practice, contact: CareContact, scope: str, on: dt.date) -> bool:
    """Whether the patient permits sharing `scope` with `contact` on `on` (one query)."""
    permissions = SharingPermission.objects.for_practice(practice).filter(contact=contact)
    return any(p.allows(scope, on) for p in permissions)


def _covering(practice: Practice, kind: str, weekday: int, at: dt.time) -> QuerySet[CallWindow]:
    # The practice in the subquery lets it probe the (practice, patient) index.
    return CallWindow.objects.for_practice(practice).filter(
        patient_id=OuterRef("pk"),
        kind=kind,
        weekdays__contains=[weekday],
        starts_at__lte=at,
        ends_at__gt=at,
    )


def call_window_open_q(*, practice: Practice, now: dt.datetime) -> Q:
    """Patients (filter on Patient) whose call window is open at `now` in the practice's
    zone: inside a best-time window (or none recorded) and outside every do-not-call one."""
    local = now.astimezone(practice.zone)
    weekday, at = local.weekday(), local.time()
    any_best = CallWindow.objects.for_practice(practice).filter(
        patient_id=OuterRef("pk"), kind=CallWindowKind.BEST
    )
    no_best = ~Exists(any_best)
    in_best = Exists(_covering(practice, CallWindowKind.BEST, weekday, at))
    in_avoid = Exists(_covering(practice, CallWindowKind.DO_NOT_CALL, weekday, at))
    return (Q(no_best) | Q(in_best)) & ~Q(in_avoid)


def call_window_open(windows: Iterable[CallWindow], local: dt.datetime) -> bool:
    """The same answer as `call_window_open_q` for windows already loaded (chart, tests)."""
    weekday, at = local.weekday(), local.time()

    def covers(w: CallWindow) -> bool:
        return weekday in w.weekdays and w.starts_at <= at < w.ends_at

    windows = list(windows)
    best = [w for w in windows if w.kind == CallWindowKind.BEST]
    avoid = [w for w in windows if w.kind == CallWindowKind.DO_NOT_CALL]
    return (not best or any(covers(w) for w in best)) and not any(covers(w) for w in avoid)


def scopes_label(scopes: Iterable[str]) -> str:
    """What a permission covers, in words ("Care plan, Medications")."""
    labels = dict(ShareScope.choices)
    return ", ".join(str(labels.get(s, s)) for s in scopes)


def weekdays_label(days: Iterable[int]) -> str:
    """Days of a call window, short: "Mon to Fri", "Mon, Wed, Fri", "Every day"."""
    days = sorted(set(days))
    names = [str(Weekday(d).label)[:3] for d in days]
    if len(days) == 7:
        return "Every day"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{names[0]} to {names[-1]}"
    return ", ".join(names)


def contact_kind(contact: CareContact) -> str:
    """What a care team member is to the patient: their role, else the kind of contact
    ("Pharmacy")."""
    return contact.role or str(contact.get_category_display()).split(" (")[0]


@dataclass(frozen=True)
class PermissionRow:
    permission: SharingPermission
    scopes: str
    in_force: bool


@dataclass(frozen=True)
class ContactRow:
    """A contact on the chart with its permissions (newest first) and those in force."""

    contact: CareContact
    permissions: list[PermissionRow]

    @property
    def kind(self) -> str:
        return contact_kind(self.contact)

    @property
    def current(self) -> list[PermissionRow]:
        return [p for p in self.permissions if p.in_force]

    @property
    def past(self) -> list[PermissionRow]:
        return [p for p in self.permissions if not p.in_force]


def contact_rows(*, practice: Practice, patient_id: Any, today: dt.date) -> list[ContactRow]:
    """Every contact of the patient (active first), each with its permissions (two queries)."""
    contacts = contact_list(practice=practice, patient_id=patient_id)
    return [
        ContactRow(
            contact,
            [
                PermissionRow(p, scopes_label(p.scopes), _in_force(p, today))
                for p in contact.permissions.all()
            ],
        )
        for contact in contacts
    ]


def _in_force(permission: SharingPermission, on: dt.date) -> bool:
    return any(permission.allows(s, on) for s in permission.scopes)


@dataclass(frozen=True)
class WindowRow:
    window: CallWindow
    days: str


def window_rows(windows: Iterable[CallWindow]) -> list[WindowRow]:
    return [WindowRow(w, weekdays_label(w.weekdays)) for w in windows]


def contact_get(*, practice: Practice, patient_id: Any, contact_id: Any) -> CareContact:
    """One of the patient's contacts (404 when another patient's or practice's)."""
    return get_for_practice_or_404(
        CareContact.objects.for_practice(practice).filter(patient_id=patient_id),
        practice,
        contact_id,
    )


def call_windows(*, practice: Practice, patient_id: Any) -> QuerySet[CallWindow]:
    """The patient's call windows, best times first, by start."""
    return CallWindow.objects.for_practice(practice).filter(patient_id=patient_id)


def contact_list(*, practice: Practice, patient_id: Any = None) -> QuerySet[CareContact]:
    """Every contact of the patient (or of the practice), active first, with its permissions
    (two queries)."""
    found = CareContact.objects.for_practice(practice)
    if patient_id is not None:
        found = found.filter(patient_id=patient_id)
    return found.order_by("-is_active", "category", "name", "pk").prefetch_related(
        Prefetch(
            "permissions",
            queryset=SharingPermission.objects.for_practice(practice).order_by(
                "-given_on", "-created_at"
            ),
        )
    )
