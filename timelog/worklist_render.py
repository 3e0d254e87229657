"""The worklist's rows table, pager and filter selects as HTML, built in Python.

The rows were the page's largest cost: about 0.2 ms of template work per row (a variable
lookup, a filter and an autoescape per cell), and the filter form's four selects render
through the widget templates. This module writes the same markup with plain string building:
every value from the database goes through `escape` (as the template's autoescape did), the
URLs come from one `reverse()` per link kind per process, and there is no inline script or
style (CSP). tests/timelog/test_worklist_render.py compares the output with the template it
replaced (kept there as the reference) for every branch of the row.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape as _escape
from typing import Any, cast

from django import forms
from django.core.paginator import Page
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from timelog.selectors import WorklistRow

_ANY_ID = uuid.UUID(int=0)


def escape(value: Any) -> str:
    """`django.utils.html.escape` without the SafeString wrapper per value (same output:
    Django's is `html.escape(str(value))`). Never called on markup this module built."""
    return _escape(str(value), quote=True)


@functools.lru_cache(maxsize=64)
def _href_template(name: str, kwarg: str, prefix: str) -> tuple[str, str]:
    url = reverse(name, kwargs={kwarg: _ANY_ID})
    head, _, tail = url.partition(str(_ANY_ID))
    return head, tail


def href_of(name: str, kwarg: str) -> Callable[[Any], str]:
    """`reverse(name, kwargs={kwarg: pk})` for many ids at the cost of one reverse per process
    (and script prefix): the URL of a placeholder id, split where the id goes."""
    head, tail = _href_template(name, kwarg, get_script_prefix())
    return lambda pk: f"{head}{pk}{tail}"


def url_of(name: str) -> str:
    """`reverse(name)` of an argument-less URL, once per process (and script prefix)."""
    return _url(name, get_script_prefix())


@functools.lru_cache(maxsize=64)
def _url(name: str, prefix: str) -> str:
    return reverse(name)


# --- Filter selects ---------------------------------------------------------------------------


def select(bound: forms.BoundField) -> str:
    """`str(bound)` for a ChoiceField on a Select widget (as the page's form renders it: the
    submitted value selected, `aria-invalid` when the value was refused)."""
    field = bound.field
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{bound.name} is not a choice field")
    value = bound.value()
    chosen = "" if value is None else str(value)
    name = bound.html_name
    attrs = f'name="{escape(name)}"'
    if bound.errors:
        attrs += f' aria-invalid="true" aria-describedby="{escape(bound.auto_id)}_error"'
    attrs += f' id="{escape(bound.auto_id)}"'
    options = "".join(
        f'  <option value="{escape(key)}"{" selected" if str(key) == chosen else ""}>'
        f"{escape(label)}</option>\n\n"
        for key, label in cast("Iterable[tuple[Any, str]]", field.choices)  # flat choices
    )
    return SafeString(f"<select {attrs}>\n{options}</select>")


def selects(form: forms.Form, names: Iterable[str]) -> dict[str, SafeString]:
    return {name: SafeString(select(form[name])) for name in names}


# --- Rows -------------------------------------------------------------------------------------

_HEAD = (
    '<table class="table">\n'
    '  <caption class="visually-hidden">Enrolled patients and their CCM minutes for {month}'
    "</caption>\n"
    '  <thead><tr>\n    <th scope="col">Patient</th><th scope="col">Staff min</th>'
    '<th scope="col">Physician min</th>\n    <th scope="col">Progress</th>'
    '<th scope="col">Days left</th><th scope="col">Last reached</th>\n'
    '    <th scope="col">Next task</th><th scope="col">Flags</th>{timer}\n'
    "  </tr></thead>\n  <tbody>\n"
)
_TIMER_HEAD = '<th scope="col"><span class="visually-hidden">Timer</span></th>'
_EMPTY = '    <tr><td colspan="9">No enrolled patients match.</td></tr>\n'


def _progress(row: WorklistRow) -> str:
    pool = row.staff_pool
    top = row.target or pool  # the template's `target|default:staff_pool`
    state = "met" if pool >= 20 else "behind" if row.behind_pace else ""
    bar = (
        f'<progress class="{state}" value="{pool}" max="{top}"\n'
        f'                  aria-label="{pool} of {top} minutes">{row.percent}%</progress>\n'
    )
    if row.minutes_needed is not None:
        pace = " · behind pace" if row.behind_pace else ""
        note = f'<div class="muted">{row.minutes_needed} min to {escape(row.next_code)}{pace}</div>'
    else:
        note = '<div class="muted">all units reached</div>'
    return f"<td>\n        {bar}        {note}\n      </td>"


def _contact(row: WorklistRow, zone: Any) -> str:
    # `timezone.localtime(value)` with the zone read once per table.
    last = row.last_contact.astimezone(zone).strftime("%Y-%m-%d") if row.last_contact else "—"
    unanswered = (
        f'<div class="muted unanswered">{row.unanswered_attempts} unanswered this month</div>'
        if row.unanswered_attempts
        else ""
    )
    return f"<td>{last}\n        {unanswered}</td>"


def _task(row: WorklistRow, task_url: str, today: dt.date) -> str:
    task = row.next_task
    if task is None:
        return "<td>—</td>"
    overdue = " overdue" if task.due_on < today else ""
    more = f" · {row.open_tasks} open" if row.open_tasks > 1 else ""
    return (
        f'<td><a href="{escape(task_url)}">{escape(task_label(task))}</a>\n'
        f'          <div class="muted{overdue}">due {task.due_on.isoformat()}{more}</div>\n'
        "        </td>"
    )


@functools.cache
def _kind_labels() -> dict[Any, Any]:
    from timelog.models import Task

    field = Task._meta.get_field("kind")
    return dict(field.flatchoices)


def task_label(task: Any) -> str:
    """`task.label` (its title, else its kind's label, translated now) without
    `get_kind_display`'s choices dict built anew on every call."""
    if task.title:
        return str(task.title)
    label = _kind_labels().get(task.kind, task.kind)
    return str(label)


def _flags(row: WorklistRow) -> str:
    if not row.flags:
        return "<td>—</td>"
    return "<td>" + "".join(f'<span class="flag">{escape(f)}</span>' for f in row.flags) + "</td>"


@dataclass(frozen=True)
class Table:
    """What the rows table needs but the running timer, which the view reads with the rows
    (the page's context processor passes it on: `{% worklist_table table %}` takes it from
    there; the htmx answer gets it directly)."""

    lines: Sequence[tuple[WorklistRow, str, str]]
    month_label: str
    today: dt.date
    page: Page
    query: str
    timer_form: TimerForm | None  # None: the member may not log time (no timer column)

    def html(self, running: Any) -> SafeString:
        timer = None if self.timer_form is None else TimerCell(running, self.timer_form)
        return rows_html(
            self.lines,
            month_label=self.month_label,
            today=self.today,
            timer=timer,
            page=self.page,
            query=self.query,
        )


def rows_html(
    lines: Sequence[tuple[WorklistRow, str, str]],
    *,
    month_label: str,
    today: dt.date,
    timer: TimerCell | None,
    page: Page,
    query: str,
) -> SafeString:
    """The table of `lines` ((row, chart URL, next task URL)) and its pager, as the rows
    template rendered them (tests/timelog/worklist_rows_reference.html). `timer`: the timer
    column's cells when the member may log time, else None (no timer column)."""
    out = [_HEAD.format(month=escape(month_label), timer=_TIMER_HEAD if timer is not None else "")]
    zone = timezone.get_current_timezone()
    for row, chart_url, task_url in lines:
        patient = row.patient
        call_now = (
            ' <span class="status call-now" title="Inside the patient\'s best time to call">'
            "Call now</span>"
            if row.call_now
            else ""
        )
        cells = [
            f'    <tr>\n      <td><a href="{escape(chart_url)}">{escape(patient.last_name)}, '
            f"{escape(patient.first_name)}</a>\n"
            f'        <div class="muted">{escape(patient.mrn)}{call_now}</div></td>\n'
            f"      <td>{row.clinical_staff_minutes}</td>\n"
            f"      <td>{row.physician_minutes}</td>\n"
            f"      {_progress(row)}\n"
            f"      <td>{row.days_left}</td>\n"
            f"      {_contact(row, zone)}\n"
            f"      {_task(row, task_url, today)}\n"
            f"      {_flags(row)}\n"
        ]
        if timer is not None:
            cells.append(f"      {timer.html(patient)}\n")
        cells.append("    </tr>\n")
        out.append("".join(cells))
    if not lines:
        out.append(_EMPTY)
    out.append("  </tbody>\n</table>\n")
    out.append(pager_html(page, query=query, noun="patients"))
    return SafeString("".join(out))


_TIMING = '<span class="muted">timing…</span>'


@dataclass(frozen=True)
class TimerForm:
    """The start-timer form's request-wide parts."""

    action: str
    csrf_token: str
    next_path: str


class TimerCell:
    """The timer column's cell for this request: the start form when no timer runs,
    "timing…" on the running timer's patient, else empty."""

    def __init__(self, running: Any, form: TimerForm) -> None:
        self.running_patient = running.patient_id if running else None
        self.running = bool(running)
        action, csrf_token, next_path = form.action, form.csrf_token, form.next_path
        self.head = (
            f'<form method="post" action="{escape(action)}">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">\n'
            '          <input type="hidden" name="patient" value="'
        )
        self.middle = (
            f'">\n          <input type="hidden" name="next" value="{escape(next_path)}">\n'
            '          <button type="submit" class="small" aria-label="Start timer for '
        )
        self.tail = '">Start timer</button>\n        </form>'

    def html(self, patient: Any) -> str:
        if not self.running:
            inner = (
                f"{self.head}{escape(patient.id)}{self.middle}"
                f"{escape(patient.first_name)} {escape(patient.last_name)}{self.tail}"
            )
        elif self.running_patient == patient.id:
            inner = _TIMING
        else:
            inner = ""
        return f"<td>\n        {inner}\n      </td>"


# --- Pager ------------------------------------------------------------------------------------


def pager_html(
    page: Page,
    *,
    query: str,
    noun: str,
    previous_label: str = "← Previous",
    next_label: str = "Next →",
) -> str:
    """templates/pager.html for one page."""
    prefix = f"?{escape(query)}&amp;" if query else "?"
    previous = (
        f'<a href="{prefix}page={page.previous_page_number()}">{escape(previous_label)}</a>'
        if page.has_previous()
        else ""
    )
    following = (
        f'<a href="{prefix}page={page.next_page_number()}">{escape(next_label)}</a>'
        if page.has_next()
        else ""
    )
    paginator = page.paginator
    return (
        f'<nav class="pager" aria-label="Pages">\n  {previous}\n'
        f"  <span>Page {page.number} of {paginator.num_pages} · {paginator.count} "
        f"{escape(noun)}</span>\n  {following}\n</nav>\n"
    )


# --- API rows ---------------------------------------------------------------------------------


def _utc_iso(value: dt.datetime | None) -> str | None:
    """DRF's DateTimeField(default_timezone=UTC) representation: ISO 8601 in UTC, `Z`."""
    if not value:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def api_rows(rows: Iterable[WorklistRow]) -> list[dict[str, Any]]:
    """`WorklistRowSerializer(rows, many=True).data` (timelog.apis, which stays the API's
    schema) built directly: the serializer's per-field machinery was most of the API's Python
    time. tests/timelog/test_worklist_render.py compares the two over the demo practice."""
    out = []
    for row in rows:
        patient = row.patient
        task = row.next_task
        out.append(
            {
                "patient": {
                    "id": str(patient.pk),
                    "mrn": patient.mrn,
                    "first_name": patient.first_name,
                    "last_name": patient.last_name,
                },
                "clinical_staff_minutes": int(row.clinical_staff_minutes),
                "physician_minutes": int(row.physician_minutes),
                "staff_pool_minutes": int(row.staff_pool),
                "next_threshold": None
                if row.next_code is None
                else {"code": row.next_code, "minutes_needed": row.minutes_needed},
                "days_left": int(row.days_left),
                "behind_pace": bool(row.behind_pace),
                "last_contact": _utc_iso(row.last_contact),
                "unanswered_attempts": int(row.unanswered_attempts),
                "open_tasks": int(row.open_tasks),
                "next_task": None
                if task is None
                else {
                    "id": str(task.pk),
                    "kind": str(task.kind),
                    "label": task_label(task),
                    "due_on": task.due_on.isoformat(),
                },
                "flags": [str(flag) for flag in row.flags],
            }
        )
    return out
