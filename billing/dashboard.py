"""The billing dashboard, home page of admins and billers: this month's numbers in the
practice's zone, minutes by member, and the last closed months as a server-side SVG chart.

Every number is an aggregate in SQL over stored results, a fixed number of queries whatever
the number of patients: the engine's claim on today's facts is kept per patient-month in
`timelog.MonthProgress` (billable, projected_amount) by `progress_refresh`, so nothing runs
the engine here. No patient rows are read, so there is nothing to audit per patient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pygal
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

from billing.models import CloseStatus, MonthClose
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.roles import Capability, roles_with
from ccm.selectors import per_row
from patients.models import Patient, Status
from timelog.models import MonthProgress, TimeEntry
from timelog.selectors import FIRST_THRESHOLD, worklist

CHART_MONTHS = 12
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class MonthNumbers:
    """This month's numbers; `billable`/`projected` are the claims a close would make now."""

    month: dt.date
    enrolled: int
    on_worklist: int  # enrolled, or left during this month (R7): the worklist's patients
    below: int  # staff pool under 20 minutes (R16, R19), as the worklist's "below" filter
    behind: int  # the worklist's "behind pace" filter
    billable: int
    projected: Decimal
    billable_without_practitioner: int  # the engine bills them, but a close makes no claim
    pending: int  # rows not yet holding the engine's claim (the hourly reconcile fills them)

    @property
    def reached(self) -> int:
        return self.on_worklist - self.below

    @property
    def label(self) -> str:
        return month_label(self.month)


def month_numbers(*, practice: Practice, month: dt.date, today: dt.date) -> MonthNumbers:
    """Enrolled, reached 20, behind pace and the projected claims for one month (five
    aggregate queries, no writes)."""
    enrolled = Patient.objects.for_practice(practice).filter(status=Status.ENROLLED)
    # The worklist's own filters, so each number is the length of the list it links to.
    lists = {
        show: worklist(practice=practice, month=month, show=show, today=today).count()
        for show in ("", "below", "behind")
    }
    # A close makes a claim only for a billable month with a billing practitioner
    # (billing.close.services._close_batch); the engine's answer itself comes stored.
    has_practitioner = Q(patient__billing_practitioner__isnull=False)
    claims = (
        MonthProgress.objects.for_practice(practice)
        .filter(month=month)
        .aggregate(
            n_claims=Count("pk", filter=Q(billable=True) & has_practitioner),
            n_amount=Sum("projected_amount", filter=Q(billable=True) & has_practitioner),
            n_without=Count("pk", filter=Q(billable=True) & ~has_practitioner),
            n_pending=Count("pk", filter=Q(billable__isnull=True)),
        )
    )
    return MonthNumbers(
        month=month,
        enrolled=enrolled.count(),
        on_worklist=lists[""],
        below=lists["below"],
        behind=lists["behind"],
        billable=claims["n_claims"],
        projected=claims["n_amount"] or ZERO,
        billable_without_practitioner=claims["n_without"],
        pending=claims["n_pending"],
    )


def member_minutes(*, practice: Practice, month: dt.date) -> QuerySet[Membership]:
    """The practice's members who logged time in the month, and every active coordinator,
    with `minutes` logged (one query), most first."""
    logged = per_row(
        TimeEntry.objects.for_practice(practice).filter(
            billing_month=month, performer=OuterRef("pk")
        ),
        "performer",
        Sum("minutes"),
        IntegerField(),
    )
    members: QuerySet[Membership] = (
        Membership.objects.for_practice(practice)  # type: ignore[assignment]
        .annotate(minutes=Coalesce(logged, 0))
        .filter(
            Q(minutes__gt=0) | Q(role__in=roles_with(Capability.COORDINATE_CARE), is_active=True)
        )
        .select_related("user")
        .order_by("-minutes", "user__full_name", "user__email")
    )
    return members


def closed_months(*, practice: Practice, count: int = CHART_MONTHS) -> list[MonthClose]:
    """The last `count` closed months (claims, amount), oldest first (one query)."""
    rows = (
        MonthClose.objects.for_practice(practice)
        .filter(status=CloseStatus.CLOSED)
        .order_by("-month")[:count]
    )
    return list(reversed(rows))


# --- Chart -----------------------------------------------------------------------------------

# The app's palette (static/css/app.css) and font.
CHART_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#d9dee5",
    colors=("#0b5cad",),
    font_family='system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    title_font_size=16,
)
SVG_NS = "{http://www.w3.org/2000/svg}"


def _csp_safe(nonce: str, label: str) -> Callable[[Any], Any]:
    """An xml filter making pygal's SVG fit the strict CSP (ccm/settings.py) when inlined:
    its <script> elements go (pygal adds a config script even with js=[]), the JS-only
    tooltip layer with its style="…" attribute goes (no nonce can allow an attribute), and
    the one <style> element carries the request's nonce, as base.html's script does."""

    def apply(root: Any) -> Any:
        for parent in list(root.iter()):
            for child in list(parent):
                tag = child.tag if isinstance(child.tag, str) else ""
                if tag.removeprefix(SVG_NS) == "script" or "tooltip-overlay" in child.get(
                    "class", ""
                ):
                    parent.remove(child)
        for element in root.iter():
            element.attrib.pop("style", None)
            if isinstance(element.tag, str) and element.tag.removeprefix(SVG_NS) == "style":
                element.set("nonce", nonce)
        root.set("role", "img")
        root.set("aria-label", label)
        return root

    return apply


def closed_months_chart(months: list[MonthClose], *, nonce: str) -> SafeString:
    """The months' billed amounts as an inline SVG bar chart (pygal), with no script and its
    stylesheet under the request's CSP nonce. Empty string for no months."""
    if not months:
        return mark_safe("")
    chart = pygal.Bar(
        style=CHART_STYLE,
        js=[],  # no pygal-tooltips from a CDN; the config script is removed by _csp_safe
        disable_xml_declaration=True,
        show_legend=False,
        print_values=True,
        print_values_position="top",
        value_formatter=lambda amount: f"${amount:,.0f}",
        truncate_label=-1,  # whole month labels
        width=800,
        height=320,
        margin=8,
        y_title="Billed ($)",
        x_label_rotation=0,
    )
    chart.x_labels = [month_label(m.month) for m in months]
    chart.add("Billed", [float(m.amount) for m in months])
    chart.add_xml_filter(
        _csp_safe(nonce, "Billed amount of the last closed months; the table lists them.")
    )
    # pygal builds the tree from numbers and month labels only (nothing anybody typed) and
    # ElementTree escapes text when serialising: the markup is safe to inline.
    return mark_safe(chart.render(is_unicode=True))  # noqa: S308


# --- The page's context ----------------------------------------------------------------------


def dashboard(*, practice: Practice, nonce: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows for this month in the practice's zone (seven queries,
    no writes, nothing per patient)."""
    today = practice.today(now)
    month = today.replace(day=1)
    closed = closed_months(practice=practice)
    return {
        "numbers": month_numbers(practice=practice, month=month, today=today),
        "members": list(member_minutes(practice=practice, month=month)),
        "closed": closed,
        "chart": closed_months_chart(closed, nonce=nonce),
        "threshold": FIRST_THRESHOLD,
    }
