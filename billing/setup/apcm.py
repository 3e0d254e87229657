"""APCM attestations (R39): the practice attests it offers the APCM service elements, and
each billing practitioner attests being responsible for all of the patient's primary care
and the continuing focal point for all needed services. Admins record and withdraw them
(validated, audited); the engine reads `PatientMonth.apcm_attested` from `in_force`.

The month rule (one copy, `held_in_month`): an attestation holds from `attested_on` to the
day before `withdrawn_on` (a date in the practice's zone; None: no end). It holds for a
billing month when it holds on at least one day of that month:

    attested_on <= the month's last day
    and (withdrawn_on is None or withdrawn_on > max(attested_on, the month's first day))

So an attestation dated the month's last day (in the practice's zone) covers that month; a
withdrawal dated mid-month still covers that month and ends the following ones; one dated
the month's first day (or the attestation's own day: recorded in error) covers none of it.
`apcm_attested` is true when the practice's and the billing practitioner's attestations
both hold for the month (each on some day of it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

from django.db.models import CharField, F, Q, Value

from billing.models import ApcmPracticeAttestation, ApcmPractitionerAttestation
from ccm.models import Membership, Practice
from ccm.months import last_day
from ccm.roles import Capability, roles_with
from ccm.tenancy import TenantQuerySet

PRACTICE_KIND, PRACTITIONER_KIND = "practice", "practitioner"


# --- the month rule (pure) -------------------------------------------------------------------


def held_in_month(attested_on: dt.date, withdrawn_on: dt.date | None, month: dt.date) -> bool:
    """Whether an attestation holds on at least one day of `month` (module docstring)."""
    if attested_on > last_day(month):
        return False
    return withdrawn_on is None or withdrawn_on > max(attested_on, month.replace(day=1))


# --- reads -----------------------------------------------------------------------------------


def practice_attestations(practice: Practice) -> TenantQuerySet[ApcmPracticeAttestation]:
    """Every practice attestation, newest first, with who recorded and withdrew it."""
    return ApcmPracticeAttestation.objects.for_practice(practice).select_related(
        "recorded_by__user", "withdrawn_by__user"
    )


def practitioner_attestations(
    practice: Practice,
) -> TenantQuerySet[ApcmPractitionerAttestation]:
    """Every practitioner attestation, newest first, with the members named on it."""
    return ApcmPractitionerAttestation.objects.for_practice(practice).select_related(
        "practitioner__user", "recorded_by__user", "withdrawn_by__user"
    )


def practitioner_choices(practice: Practice) -> TenantQuerySet[Membership]:
    """The billing practitioners who may attest: active physicians with an NPI."""
    members = Membership.objects.for_practice(practice).filter(
        is_active=True, role__in=roles_with(Capability.BILL_AS_PRACTITIONER)
    )
    return members.exclude(npi="").select_related("user").order_by("user__full_name")


class InForce:
    """Which billing practitioners are APCM-attested in which months: the rows of both kinds
    that may hold in `months`, read in one query, then `held_in_month` in Python."""

    def __init__(self, rows: Iterable[tuple[str, Any, dt.date, dt.date | None]]) -> None:
        self._practice: list[tuple[dt.date, dt.date | None]] = []
        self._practitioners: dict[str, list[tuple[dt.date, dt.date | None]]] = {}
        for kind, practitioner_id, attested_on, withdrawn_on in rows:
            if kind == PRACTICE_KIND:
                self._practice.append((attested_on, withdrawn_on))
            else:
                key = str(practitioner_id)
                self._practitioners.setdefault(key, []).append((attested_on, withdrawn_on))

    def attested(self, practitioner_id: Any, month: dt.date) -> bool:
        """Both attestations hold for `month` (None practitioner: false)."""
        if practitioner_id is None:
            return False
        mine = self._practitioners.get(str(practitioner_id), ())
        return any(held_in_month(a, w, month) for a, w in self._practice) and any(
            held_in_month(a, w, month) for a, w in mine
        )


def _may_hold(months: Collection[dt.date]) -> Q:
    first, last = min(months).replace(day=1), last_day(max(months))
    return Q(attested_on__lte=last) & (Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gt=first))


def in_force(practice: Practice, months: Collection[dt.date]) -> InForce:
    """The practice's attestations that may hold in `months`, for every practitioner: one
    query (a UNION of both kinds), whatever the number of patients or practitioners."""
    if not months:
        return InForce(())
    kind = {"kind": Value(PRACTICE_KIND, output_field=CharField())}
    ours = (
        ApcmPracticeAttestation.objects.for_practice(practice)
        .filter(_may_hold(months))
        .order_by()
        .annotate(**kind, who=Value(None, output_field=CharField()))
        .values_list("kind", "who", "attested_on", "withdrawn_on")
    )
    theirs = (
        ApcmPractitionerAttestation.objects.for_practice(practice)
        .filter(_may_hold(months))
        .order_by()
        .annotate(
            kind=Value(PRACTITIONER_KIND, output_field=CharField()),
            who=F("practitioner_id"),
        )
        .values_list("kind", "who", "attested_on", "withdrawn_on")
    )
    return InForce(ours.union(theirs, all=True))


def apcm_attested(practice: Practice, billing_practitioner_id: Any, month: dt.date) -> bool:
    """R39's `apcm_attested` for one practitioner and month: the practice's attestation and
    the practitioner's both hold on some day of `month` (module docstring). One query."""
    return in_force(practice, [month]).attested(billing_practitioner_id, month)
