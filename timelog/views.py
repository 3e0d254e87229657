"""Pages for the coordinator's day: worklist, time entries, timer, outreach tasks."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString

from ccm import audit
from ccm.forms import flash_error
from ccm.models import Membership
from ccm.months import month_label, parse_month
from ccm.pages import acting, done, form_page, month_links, page, save_form, submit
from ccm.roles import Capability, can
from ccm.tenancy import (
    PracticeRequest,
    get_for_practice_or_404,
    lock_for_practice_or_404,
)
from ccm.versioning import check_unchanged
from patients.models import MedicationReconciliation, Patient
from timelog import contact_services, selectors, services, worklist_render
from timelog.contact_forms import TaskCompleteContactForm, TimerStopContactForm
from timelog.forms import (
    AdjustmentForm,
    TaskFilterForm,
    TaskForm,
    TaskReassignForm,
    TimeEntryEditForm,
    TimeEntryForm,
    TimerStartForm,
    WorklistFilterForm,
    default_start,
)
from timelog.models import CALL_KINDS, Activity, Task, TaskStatus, TimeEntry
from timelog.time_totals import time_totals_by_month

PAGE_SIZE = 25


def _month(request: PracticeRequest, text: str | None) -> dt.date:
    """The month asked for, else the current one in the practice's zone."""
    if text:
        try:
            return parse_month(text)
        except ValidationError:
            messages.error(request, "Months are written YYYY-MM; showing this month.")
    return request.practice.this_month()


# --- Worklist --------------------------------------------------------------------------------


@page(Capability.VIEW_PRACTICE, "GET")
def worklist(request: PracticeRequest) -> HttpResponse:
    """The worklist page, or its rows alone for htmx (`HX-Target: worklist`). The rows, the
    pager and the filter selects are built by timelog.worklist_render (the template engine's
    per-cell cost was most of the page); the page around them stays a template."""
    data, filters = _worklist_filters(request.GET)
    month = _month(request, data.get("month"))
    default_who = "mine" if can(request.membership, Capability.COORDINATE_CARE) else "all"
    who = data.get("who") or default_who
    today = request.practice.today()
    ids = selectors.worklist_page_ids(
        practice=request.practice,
        month=month,
        coordinator=request.membership if who == "mine" else None,
        show=data.get("show", ""),
        sort=data.get("sort") or "name",
        today=today,
        call_window=data.get("call_window", ""),
    )
    if isinstance(ids, selectors.PageIds):
        ids.expect(request.GET.get("page"), PAGE_SIZE)  # read with the count: one query
    page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
    # The running timer (the header's, and the timer column's) read with the rows.
    rows, running = selectors.worklist_page_rows_and_timer(
        page.object_list,
        practice=request.practice,
        month=month,
        today=today,
        membership=request.membership,
    )
    if running is selectors.TIMER_UNREAD:  # no rows: no statement read it
        running = services.timer_get(membership=request.membership)
    request.running_timer = running  # type: ignore[attr-defined]  # the header's (context_processors)
    audit.read_many(request.membership, [row.patient for row in rows], action="worklist.list")
    query = request.GET.copy()
    query.pop("page", None)
    chart = worklist_render.href_of("patients:patient-detail", "patient_id")
    task = worklist_render.href_of("timelog:task-detail", "task_id")
    # Each row with its chart's and its next task's URLs.
    lines = [
        (row, chart(row.patient.pk), task(row.next_task.pk) if row.next_task else "")
        for row in rows
    ]
    links = month_links(month)
    csrf_token = get_token(request)  # one masked token for the page (as its template had)
    table = worklist_render.Table(
        lines,
        month_label=links["month_label"],
        today=today,
        page=page,
        query=query.urlencode(),
        timer_form=worklist_render.TimerForm(
            action=worklist_render.url_of("timelog:timer-start"),
            csrf_token=csrf_token,
            next_path=request.get_full_path(),
        )
        if can(request.membership, Capability.LOG_TIME)
        else None,
    )
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "worklist":
        # The rows alone; the running timer decides the timer column.
        return HttpResponse(table.html(running))
    context = {
        "csrf_token": csrf_token,
        "worklist_url": worklist_render.url_of("timelog:worklist"),
        "filters": filters,
        "table": table,
        "page": page,
        "rows": rows,
        "today": today,
        **links,
        "who": who,
        "is_current": month == request.practice.this_month(),
    }
    return render(request, "timelog/worklist.html", context)


# The filter form's fields, and those shown as selects.
_FILTER_FIELDS = ("month", "who", "show", "sort", "call_window")
_FILTER_SELECTS = ("who", "show", "sort", "call_window")
_FILTERS: dict[tuple[Any, ...], tuple[Mapping[str, Any], dict[str, SafeString]]] = {}
_FILTERS_MAX = 256
_FILTER_VALUE_MAX = 32  # longer values are cleaned anew (never kept)


def _worklist_filters(
    query: QueryDict,
) -> tuple[Mapping[str, Any], dict[str, SafeString]]:
    """The filter form's cleaned data ({} when refused) and its selects' HTML.

    Both depend only on the five values the form reads (and whether the query is empty: an
    unbound form; the language of the labels), so they are kept per process for the values
    seen (bounded: cleared when full; long values never kept): building the form (a deep
    copy of its fields) and rendering its selects cost more than a quarter millisecond per
    page."""
    values = tuple(query.get(name) for name in _FILTER_FIELDS)
    key = (translation.get_language(), bool(query), *values)
    found = _FILTERS.get(key)
    if found is None:
        form = WorklistFilterForm(query or None)
        data = form.cleaned_data if form.is_valid() else {}
        found = (MappingProxyType(dict(data)), worklist_render.selects(form, _FILTER_SELECTS))
        if all(value is None or len(value) <= _FILTER_VALUE_MAX for value in values):
            if len(_FILTERS) >= _FILTERS_MAX:
                _FILTERS.clear()
            _FILTERS[key] = found
    return found


# --- Time entries ----------------------------------------------------------------------------


@page(Capability.VIEW_PRACTICE, "GET")
def time_entry_list(request: PracticeRequest) -> HttpResponse:
    month = _month(request, request.GET.get("month"))
    performer = None
    if request.GET.get("performer"):  # one member's time (the dashboard's minutes link here)
        performer = get_for_practice_or_404(Membership, request.practice, request.GET["performer"])
    mine = (
        performer is None
        and request.GET.get("who", "mine") == "mine"
        and can(request.membership, Capability.LOG_TIME)
    )
    performer_id = performer.pk if performer else (request.membership.pk if mine else None)
    entries = selectors.time_entry_list(
        practice=request.practice, month=month, performer_id=performer_id
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    audit.read_many(request.membership, [e.patient for e in page.object_list], action="time.list")
    totals = time_totals_by_month(practice=request.practice, month=month, performer_id=performer_id)
    context = {
        "page": page,
        "totals": totals,
        **month_links(month),
        "mine": mine,
        "performer": performer,
        "locked": services.month_is_locked(practice=request.practice, month=month),
    }
    return render(request, "timelog/time_entry_list.html", context)


def _chart(patient: Patient) -> str:
    return reverse("patients:patient-detail", kwargs={"patient_id": patient.pk}) + "#time"


@page(Capability.LOG_TIME)
def time_entry_new(request: PracticeRequest, patient_id: uuid.UUID) -> HttpResponse:
    initial = {"started_at": default_start(timezone.localtime())}
    # Minutes spent on a medication reconciliation (its link on the chart: ?reconciliation=).
    reconciliation = _reconciliation_of(request, patient_id)
    if reconciliation is not None:
        initial["activity"] = Activity.MEDICATION
    form = TimeEntryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        # The service reads the patient as it locks it (404 when gone): no read before.
        saved = save_form(
            request,
            form,
            services.time_entry_create,
            patient=patient_id,
            reconciliation=reconciliation,
            refused=(ValidationError, services.MonthLocked),
        )
        if saved:
            chart = reverse("patients:patient-detail", kwargs={"patient_id": patient_id})
            return done(request, f"{form.cleaned_data['minutes']} minutes logged.", chart + "#time")
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    if not (request.method == "POST" and form.is_valid()):  # a refusal was a write's attempt
        audit.read(request.membership, patient, patient_id=patient.pk)
    context = {"patient": patient, "entry": None, "reconciliation": reconciliation}
    return form_page(request, "timelog/time_entry_form.html", form, **context)


def _reconciliation_of(request: PracticeRequest, patient_id: Any) -> Any:
    """The patient's medication reconciliation named by `?reconciliation=` (404 for another
    patient's or practice's), or None."""
    wanted = request.GET.get("reconciliation")
    if not wanted:
        return None
    found = MedicationReconciliation.objects.for_practice(request.practice).filter(
        patient_id=patient_id
    )
    return get_for_practice_or_404(found, request.practice, wanted)


def _entry_or_404(request: PracticeRequest, entry_id: str) -> Any:
    return selectors.time_entry_get(practice=request.practice, entry_id=entry_id)


def _entry_initial(entry: TimeEntry) -> dict[str, Any]:
    return {
        "started_at": default_start(timezone.localtime(entry.started_at)),
        "minutes": entry.minutes,
        "activity": entry.activity,
        "note": entry.note,
        "face_to_face": entry.face_to_face,
    }


def _lock(request: PracticeRequest, entry: TimeEntry) -> TimeEntry:
    # The rows time_entry_update locks first (entry and patient), in its order.
    queryset = TimeEntry.objects.select_related("patient")
    return lock_for_practice_or_404(queryset, request.practice, entry.pk)


@page(Capability.LOG_TIME)
def time_entry_edit(request: PracticeRequest, entry_id: str) -> HttpResponse:
    entry = _entry_or_404(request, entry_id)
    locked = services.month_is_locked(practice=request.practice, month=entry.billing_month)
    if not services.can_change(request.membership, entry):
        raise PermissionDenied(services.NOT_YOURS_MESSAGE)
    form = TimeEntryEditForm(request.POST or None, initial=_entry_initial(entry))
    status = 200
    if request.method == "POST" and locked:
        form.add_error(None, services.LOCKED_MESSAGE.format(month=month_label(entry.billing_month)))
        status = 409
    elif request.method == "POST" and form.is_valid():
        saved = submit(
            form,
            lambda: services.time_entry_update(
                **acting(request, entry=entry), data=form.cleaned_data
            ),
            refused=(services.MonthLocked, ValidationError),
            opened=lambda: _entry_initial(_lock(request, entry)),
        )
        if saved:
            return done(request, "Time entry saved.", _chart(entry.patient))
        if saved.refused_by(services.MonthLocked):
            status = 409
    else:
        audit.read(request.membership, entry, patient_id=entry.patient_id)
    if form.errors and status == 200:
        status = 400
    context = {"form": form, "patient": entry.patient, "entry": entry, "locked": locked}
    return render(request, "timelog/time_entry_form.html", context, status=status)


@page(Capability.LOG_TIME, "POST")
def time_entry_delete(request: PracticeRequest, entry_id: str) -> HttpResponse:
    entry = _entry_or_404(request, entry_id)
    try:
        services.time_entry_delete(practice=request.practice, actor=request.membership, entry=entry)
    except services.MonthLocked as exc:
        flash_error(request, exc)
    else:
        messages.success(request, "Time entry deleted.")
    return redirect(_chart(entry.patient))


@page(Capability.LOG_TIME)
def time_entry_adjust(request: PracticeRequest, entry_id: str) -> HttpResponse:
    entry = _entry_or_404(request, entry_id)
    form = AdjustmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        saved = submit(
            form,
            lambda: services.time_adjust(
                **acting(request, entry=entry),
                corrected_minutes=form.cleaned_data["corrected_minutes"],
                reason=form.cleaned_data["reason"],
            ),
        )
        if saved:
            return done(request, "Correction recorded.", _chart(entry.patient))
    else:
        audit.read(request.membership, entry, patient_id=entry.patient_id)
    context = {"entry": entry, "patient": entry.patient}
    return form_page(request, "timelog/time_entry_adjust.html", form, **context)


# --- Timer -----------------------------------------------------------------------------------


@page(Capability.LOG_TIME, "POST")
def timer_start(request: PracticeRequest) -> HttpResponse:
    form = TimerStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a patient to time.")
        return redirect("timelog:worklist")
    patient = get_for_practice_or_404(Patient, request.practice, form.cleaned_data["patient"])
    try:
        services.timer_start(
            practice=request.practice,
            actor=request.membership,
            patient=patient,
            activity=form.cleaned_data.get("activity") or "",
        )
    except ValidationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, "Timer started. It keeps running if you leave this page.")
    return redirect(request.POST.get("next") or _chart(patient))


@page(Capability.LOG_TIME)
def timer_stop(request: PracticeRequest) -> HttpResponse:
    # A stop reads the patient as it locks it: the timer's patient only for the page.
    posted = request.method == "POST"
    timer = services.timer_get(membership=request.membership, with_patient=not posted)
    if timer is None:
        messages.info(request, services.NO_TIMER_MESSAGE)
        return redirect("timelog:worklist")
    elapsed = timer.elapsed_minutes()
    over_limit = elapsed > request.practice.timer_confirm_minutes
    form = TimerStopContactForm(
        request.POST or None,
        initial={"activity": timer.activity, "note": timer.note},
        practice=request.practice,
        patient_id=timer.patient_id,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        saved = submit(
            form,
            lambda: contact_services.contact_timer_stop(
                **acting(request),
                activity=data["activity"],
                note=data["note"],
                minutes=data.get("minutes"),
                confirmed=bool(data.get("confirm")),
                contact=form.contact_input(note=data["note"]),
                timer=timer,  # as read above: the stop claims it (no second read)
            ),
            refused=(ValidationError, services.MonthLocked),
        )
        if saved:
            entry, _ = saved.result
            message = f"{entry.minutes} minutes logged from the timer."
            return done(request, message, _chart(entry.patient))
    else:
        audit.read(request.membership, timer.patient, patient_id=timer.patient_id)
    context = {
        "timer": timer,
        "elapsed": elapsed,
        "over_limit": over_limit,
        "limit": request.practice.timer_confirm_minutes,
    }
    return form_page(request, "timelog/timer_stop.html", form, **context)


@page(Capability.LOG_TIME, "POST")
def timer_discard(request: PracticeRequest) -> HttpResponse:
    try:
        services.timer_discard(practice=request.practice, actor=request.membership)
    except ValidationError as exc:
        flash_error(request, exc, level=messages.INFO)
    else:
        messages.success(request, "Timer discarded; nothing was logged.")
    return redirect("timelog:worklist")


# --- Tasks -----------------------------------------------------------------------------------


@page(Capability.VIEW_PRACTICE, "GET")
def task_list(request: PracticeRequest) -> HttpResponse:
    form = TaskFilterForm(request.GET or None)
    view = (form.cleaned_data.get("view") if form.is_valid() else "") or "mine"
    tasks = selectors.task_list(
        practice=request.practice,
        view=view,
        membership=request.membership,
        today=request.practice.today(),
    )
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    audit.read_many(request.membership, [t.patient for t in page.object_list], action="task.list")
    context = {
        "form": form,
        "page": page,
        "view": view,
        "views": selectors.TASK_VIEWS,
        "today": request.practice.today(),
        "clinical": can(request.membership, Capability.LOG_TIME),
    }
    return render(request, "timelog/task_list.html", context)


@page(Capability.LOG_TIME)
def task_new(request: PracticeRequest, patient_id: str) -> HttpResponse:
    patient = get_for_practice_or_404(Patient, request.practice, patient_id)
    initial = {"due_on": request.practice.today(), "assignee": patient.coordinator_id}
    form = TaskForm(request.POST or None, practice=request.practice, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = save_form(request, form, services.task_create, patient=patient)
        if saved:
            return done(request, "Task created.", _chart(patient))
    else:
        audit.read(request.membership, patient, patient_id=patient.pk)
    return form_page(request, "timelog/task_form.html", form, patient=patient)


def _task_or_404(request: PracticeRequest, task_id: str) -> Task:
    tasks = selectors.task_list(
        practice=request.practice, view="all", today=request.practice.today()
    )
    return get_for_practice_or_404(tasks, request.practice, task_id)


def _task_initial(task: Task) -> dict[str, Any]:
    # What the task page shows that may change while it is open (a closed task is refused
    # by the services with their own message).
    return {"assignee": task.assignee_id, "due_on": task.due_on, "title": task.title}


def _task_now(request: PracticeRequest, task: Task) -> dict[str, Any]:
    # The row task_reassign locks first.
    queryset = Task.objects.select_related("patient")
    return _task_initial(lock_for_practice_or_404(queryset, request.practice, task.pk))


# What a task's services refuse with, shown on the task's form.
_TASK_REFUSALS = (ValidationError, services.ApplicationError)


def _complete(
    request: PracticeRequest, task: Task, form: TaskCompleteContactForm, locked: bool = False
) -> Task:
    data = form.cleaned_data
    call = task.kind in CALL_KINDS
    done, _ = contact_services.contact_task_complete(
        **acting(request, task=task),
        locked=locked,
        note=data["note"],
        cancel=bool(data["cancel"]),
        log_minutes=data.get("log_minutes") if call else None,
        log_started_at=data.get("log_started_at") if call else None,
        contact=form.contact_input(note=data["note"]),
    )
    return done


def _complete_form(request: PracticeRequest, task: Task, data: Any = None) -> Any:
    return TaskCompleteContactForm(
        data,
        initial=_task_initial(task),
        practice=request.practice,
        patient_id=task.patient_id,
        call=task.kind in CALL_KINDS,
    )


def _task_page(
    request: PracticeRequest, task: Task, status: int = 200, **forms: Any
) -> HttpResponse:
    initial = _task_initial(task)
    context = {
        "task": task,
        "reassign_form": forms.get("reassign_form")
        or TaskReassignForm(practice=request.practice, initial=initial),
        "complete_form": forms.get("complete_form") or _complete_form(request, task),
        "is_call": task.kind in CALL_KINDS,
        "clinical": can(request.membership, Capability.LOG_TIME),
        "is_open": task.status == TaskStatus.OPEN,
    }
    return render(request, "timelog/task_detail.html", context, status=status)


@page(Capability.VIEW_PRACTICE, "GET")
def task_detail(request: PracticeRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    audit.read(request.membership, task, patient_id=task.patient_id)
    return _task_page(request, task)


@page(Capability.LOG_TIME, "POST")
def task_reassign(request: PracticeRequest, task_id: str) -> HttpResponse:
    task = _task_or_404(request, task_id)
    form = TaskReassignForm(request.POST, practice=request.practice, initial=_task_initial(task))
    saved = submit(
        form,
        lambda: services.task_reassign(
            **acting(request, task=task), assignee=form.cleaned_data["assignee"]
        ),
        refused=_TASK_REFUSALS,
        opened=lambda: _task_now(request, task),
    )
    if saved:
        return done(request, "Task reassigned.", "timelog:task-detail", task_id=task.pk)
    return _task_page(request, task, status=400, reassign_form=form)


class _NotSaved(Exception):
    """A completion the page refused (its form shows why): its transaction rolls back."""

    def __init__(self, form: TaskCompleteContactForm) -> None:
        self.form = form


@page(Capability.LOG_TIME, "POST")
def task_complete(request: PracticeRequest, task_id: str) -> HttpResponse:
    try:
        with transaction.atomic():
            # The task and its patient, read and locked in one statement in the save's
            # transaction: the form is built from the locked row and its version checked
            # against it; the service takes both as they are (no second read or lock).
            task = services.task_lock(practice=request.practice, task_id=task_id)
            form = _complete_form(request, task, request.POST)

            def save() -> Task:
                # On the row locked here: unchanged_since_opened's own transaction would be
                # a savepoint inside this one (two more queries on every save).
                check_unchanged(form, _task_initial(task))
                return _complete(request, task, form, locked=True)

            if not submit(form, save, refused=_TASK_REFUSALS):
                raise _NotSaved(form)
    except _NotSaved as refused:
        # The page shows the task as it is (the rollback undid anything the refusal left on
        # the locked row's instance).
        return _task_page(
            request, _task_or_404(request, task_id), status=400, complete_form=refused.form
        )
    outcome = "cancelled" if form.cleaned_data["cancel"] else "done"
    return done(request, f"Task marked {outcome}.", "timelog:task-list")
