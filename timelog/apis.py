"""Time, worklist and task API (contract §4). Rules live in timelog.services; these views
parse input, look objects up in the caller's practice (another practice's object is 404),
call one service and shape the answer. A closed month's time answers 409.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ccm import audit
from ccm.api import (
    NON_BLANK_PATTERN,
    PAGE_PARAMETERS,
    ApiView,
    EnumField,
    MemberSerializer,
    MonthField,
    RowLock,
    error_responses,
    page_of,
    paginate,
    read_answer,
    read_page,
    reference_or_404,
    requested_page,
    validated,
)
from ccm.models import Membership
from ccm.months import month_label
from ccm.roles import Capability
from ccm.tenancy import get_for_practice_or_404
from patients.models import MedicationReconciliation, Patient
from patients.selectors import clinician_choices
from timelog import contact_services, selectors, services, worklist_render
from timelog.contact_serializers import ContactFieldsSerializer, contact_input
from timelog.models import (
    MAX_ENTRY_MINUTES,
    Activity,
    MonthLock,
    PerformerKind,
    Source,
    Task,
    TaskKind,
    TaskOrigin,
    TaskStatus,
    TimeEntry,
)

UTC = dt.UTC
NAIVE_MESSAGE = "Give the time with its UTC offset, e.g. 2026-10-20T13:00:00Z."


def _member(practice: Any, member_id: Any, field: str) -> Membership | None:
    if member_id is None:
        return None
    reference_or_404(Membership, practice, member_id, field=field)
    member = clinician_choices(practice=practice).filter(pk=member_id).first()
    if member is None:
        raise ValidationError({field: "Choose an active clinical member of this practice."})
    return member


# --- Shapes ------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="TimeAdjustment")
class AdjustmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    minutes_delta = serializers.IntegerField()
    reason = serializers.CharField()
    actor = serializers.UUIDField(source="actor_id")
    created_at = serializers.DateTimeField(default_timezone=UTC)


@extend_schema_serializer(component_name="TimeEntry")
class TimeEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    performer = MemberSerializer()
    performer_kind = EnumField(PerformerKind.choices, enum_name="PerformerKindEnum")
    practitioner = serializers.UUIDField(
        source="practitioner_id", allow_null=True, help_text="Billing practitioner (R14)."
    )
    started_at = serializers.DateTimeField(default_timezone=UTC)
    ended_at = serializers.DateTimeField(default_timezone=UTC)
    minutes = serializers.IntegerField(help_text="As logged.")
    effective_minutes = serializers.IntegerField(help_text="After audited adjustments.")
    activity = EnumField(Activity.choices, enum_name="TimeActivityEnum")
    note = serializers.CharField()
    face_to_face = serializers.BooleanField(help_text="Never counts toward CCM (R15).")
    source = EnumField(Source.choices, enum_name="TimeSourceEnum")  # type: ignore[assignment]
    billing_month = serializers.SerializerMethodField(help_text="YYYY-MM, practice time zone.")
    locked = serializers.SerializerMethodField(help_text="The month is closed: read-only.")
    adjustments = AdjustmentSerializer(many=True)
    reconciliation = serializers.UUIDField(
        source="reconciliation_id",
        allow_null=True,
        help_text="The medication reconciliation these minutes were spent on, if any.",
    )
    created_at = serializers.DateTimeField(default_timezone=UTC)

    def get_billing_month(self, entry: TimeEntry) -> str:
        return month_label(entry.billing_month)

    def get_locked(self, entry: TimeEntry) -> bool:
        return entry.billing_month in self.context.get("locked_months", set())


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset (contract §4); a time without one is refused, not guessed."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # well formed but out of range (12:99): DRF answers it, a 400
            parsed = None
        if parsed is not None and timezone.is_naive(parsed):
            raise serializers.ValidationError(NAIVE_MESSAGE)
        return super().to_internal_value(value)


@extend_schema_serializer(component_name="TimeEntryInput")
class TimeEntryInputSerializer(serializers.Serializer):
    patient = serializers.UUIDField()
    started_at = AwareDateTimeField(help_text="ISO 8601 with offset.")
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_ENTRY_MINUTES)
    activity = EnumField(Activity.choices, enum_name="TimeActivityEnum")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    face_to_face = serializers.BooleanField(required=False, default=False)
    reconciliation = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The patient's medication reconciliation these minutes were spent on.",
    )


def _locked_months(practice: Any, entries: list[TimeEntry]) -> set[dt.date]:
    months = {e.billing_month for e in entries}
    return set(
        MonthLock.objects.for_practice(practice)
        .filter(month__in=months)
        .values_list("month", flat=True)
    )


def _entry_response(view: ApiView, entry: TimeEntry, code: int = 200) -> Response:
    entry = selectors.time_entry_get(practice=view.practice, entry_id=entry.pk)
    context = {"locked_months": _locked_months(view.practice, [entry])}
    return Response(TimeEntrySerializer(entry, context=context).data, status=code)


# --- Time entries ------------------------------------------------------------------------------


class TimeEntryListApi(ApiView):
    """GET: any role. POST: clinical roles; the caller is the performer."""

    @extend_schema_serializer(component_name="TimeEntryFilter")
    class FilterSerializer(serializers.Serializer):
        patient = serializers.UUIDField(required=False)
        month = MonthField(required=False, help_text="YYYY-MM (practice time zone).")
        user = serializers.UUIDField(required=False, help_text="Membership id of the performer.")

    PageSerializer = page_of(TimeEntrySerializer, "TimeEntryPage")

    write_capability = Capability.LOG_TIME

    @extend_schema(
        operation_id="time_entries_list",
        summary="Time entries, newest first (each patient shown is audited as read)",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        f: dict[str, Any] = validated(self.FilterSerializer, request.query_params)
        entries = selectors.time_entry_list(
            practice=self.practice,
            patient_id=f.get("patient"),
            month=f.get("month"),
            performer_id=f.get("user"),
        )
        paginator, page = paginate(self, entries)
        audit.read_many(self.membership, [e.patient for e in page], action="time.list")
        context = {"locked_months": _locked_months(self.practice, page)}
        data = TimeEntrySerializer(page, many=True, context=context).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="time_entries_create",
        summary="Log minutes for a patient (409 when the month is closed)",
        request=TimeEntryInputSerializer,
        responses={201: TimeEntrySerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(TimeEntryInputSerializer, request.data)
        patient = _patient(self, data.pop("patient"))
        if data.get("reconciliation") is not None:
            data["reconciliation"] = reference_or_404(
                MedicationReconciliation,
                self.practice,
                data["reconciliation"],
                field="reconciliation",
            )
        entry = services.time_entry_create(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        return _entry_response(self, entry, status.HTTP_201_CREATED)


def _patient(view: ApiView, patient_id: Any) -> Patient:
    return reference_or_404(Patient, view.practice, patient_id, field="patient")


class TimeEntryDetailApi(ApiView):
    """GET: any role. PATCH/DELETE: the performer or an admin; a closed month answers 409."""

    @extend_schema_serializer(component_name="TimeEntryPatch")
    class PatchSerializer(serializers.Serializer):
        started_at = AwareDateTimeField(required=False)
        minutes = serializers.IntegerField(min_value=1, max_value=MAX_ENTRY_MINUTES, required=False)
        activity = EnumField(Activity.choices, enum_name="TimeActivityEnum", required=False)
        note = serializers.CharField(required=False, allow_blank=True)
        face_to_face = serializers.BooleanField(required=False)

    write_capability = Capability.LOG_TIME
    version_lock = RowLock(TimeEntry, "entry_id")

    @extend_schema(
        operation_id="time_entries_retrieve",
        summary="One time entry with its adjustments (audited)",
        responses={200: TimeEntrySerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, entry_id: str) -> Response:
        entry = selectors.time_entry_get(practice=self.practice, entry_id=entry_id)
        audit.read(self.membership, entry, patient_id=entry.patient_id)
        return _entry_response(self, entry)

    @extend_schema(
        operation_id="time_entries_partial_update",
        summary="Change an entry of an open month",
        request=PatchSerializer,
        responses={200: TimeEntrySerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, entry_id: str) -> Response:
        entry = selectors.time_entry_get(practice=self.practice, entry_id=entry_id)
        data = validated(self.PatchSerializer, request.data, partial=True)
        entry = services.time_entry_update(
            practice=self.practice,
            actor=self.membership,
            entry=entry,
            data=data,
        )
        return _entry_response(self, entry)

    @extend_schema(
        operation_id="time_entries_destroy",
        summary="Delete an entry of an open month",
        responses={204: None, **error_responses(403, 404, 409)},
    )
    def delete(self, request: Request, entry_id: str) -> Response:
        entry = selectors.time_entry_get(practice=self.practice, entry_id=entry_id)
        services.time_entry_delete(practice=self.practice, actor=self.membership, entry=entry)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Worklist ----------------------------------------------------------------------------------


@extend_schema_serializer(component_name="WorklistTask")
class WorklistTaskSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = EnumField(TaskKind.choices, enum_name="TaskKindEnum")
    label = serializers.CharField()  # type: ignore[assignment]
    due_on = serializers.DateField()


@extend_schema_serializer(component_name="WorklistRow")
class WorklistRowSerializer(serializers.Serializer):
    patient = serializers.SerializerMethodField()
    clinical_staff_minutes = serializers.IntegerField(help_text="Countable (R16).")
    physician_minutes = serializers.IntegerField(help_text="Countable (R16).")
    staff_pool_minutes = serializers.IntegerField(source="staff_pool")
    next_threshold = serializers.SerializerMethodField()
    days_left = serializers.IntegerField()
    behind_pace = serializers.BooleanField()
    last_contact = serializers.DateTimeField(
        default_timezone=UTC, allow_null=True, help_text="The last reached contact attempt."
    )
    unanswered_attempts = serializers.IntegerField(
        help_text="Contact attempts this month that reached no one, since the last reached."
    )
    open_tasks = serializers.IntegerField()
    next_task = WorklistTaskSerializer(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "mrn": {"type": "string"},
                "first_name": {"type": "string"},
                "last_name": {"type": "string"},
            },
        }
    )
    def get_patient(self, row: selectors.WorklistRow) -> dict[str, Any]:
        p = row.patient
        return {"id": str(p.pk), "mrn": p.mrn, "first_name": p.first_name, "last_name": p.last_name}

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "The engine's next threshold (R27); null when every unit is reached.",
            "properties": {"code": {"type": "string"}, "minutes_needed": {"type": "integer"}},
        }
    )
    def get_next_threshold(self, row: selectors.WorklistRow) -> dict[str, Any] | None:
        if row.next_code is None:
            return None
        return {"code": row.next_code, "minutes_needed": row.minutes_needed}


class WorklistApi(ApiView):
    """Any role: every enrolled patient's month with the engine's progress."""

    @extend_schema_serializer(component_name="WorklistFilter")
    class FilterSerializer(serializers.Serializer):
        month = MonthField(required=False, help_text="YYYY-MM; default this month.")
        coordinator = serializers.UUIDField(required=False, help_text="Membership id.")
        show = serializers.ChoiceField(
            choices=[k for k in selectors.WORKLIST_FILTERS if k], required=False
        )
        sort = serializers.ChoiceField(choices=list(selectors.WORKLIST_SORTS), required=False)
        call_window = serializers.ChoiceField(
            choices=[k for k in selectors.CALL_WINDOW_FILTERS if k],
            required=False,
            help_text="open: only patients whose call window is open now (practice's zone).",
        )

    PageSerializer = page_of(WorklistRowSerializer, "WorklistPage")

    @extend_schema(
        operation_id="worklist",
        summary="Enrolled patients' minutes, next threshold, pace, last contact and tasks",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        f = _worklist_filter(self.FilterSerializer, request.query_params)
        month = f.get("month") or self.practice.this_month()
        coordinator = None
        if f.get("coordinator"):
            coordinator = get_for_practice_or_404(Membership, self.practice, f["coordinator"])
        today = self.practice.today()
        ids = selectors.worklist_page_ids(
            practice=self.practice,
            month=month,
            coordinator=coordinator,
            show=f.get("show", ""),
            sort=f.get("sort", "name"),
            today=today,
            call_window=f.get("call_window", ""),
        )
        if isinstance(ids, selectors.PageIds):  # read with the count: one query
            ids.expect(*requested_page(self))
        paginator, page = paginate(self, ids)
        rows = selectors.worklist_page_rows(page, practice=self.practice, month=month, today=today)
        audit.read_many(self.membership, [r.patient for r in rows], action="worklist.list")
        # WorklistRowSerializer's output (the schema above), built without its field machinery.
        return paginator.get_paginated_response(worklist_render.api_rows(rows))


# The worklist filter's fields (WorklistApi.FilterSerializer's; a test holds them equal).
WORKLIST_FILTER_FIELDS = ("month", "coordinator", "show", "sort", "call_window")
_WORKLIST_FILTERS: dict[tuple[str | None, ...], Mapping[str, Any]] = {}
_WORKLIST_FILTERS_MAX = 256
_WORKLIST_FILTER_VALUE_MAX = 64  # longer values are validated anew (never kept)


def _worklist_filter(
    serializer_class: type[serializers.Serializer], query: Any
) -> Mapping[str, Any]:
    """`validated(serializer_class, query)`, kept per process for the filter values seen
    (bounded: cleared when full; refused and long values never kept): the serializer's
    fields are deep-copied and run on every request otherwise, about a tenth of a
    millisecond. The result depends only on the five values (`validated` reads the last
    value of each key; unknown keys are ignored)."""
    values = tuple(query.get(name) for name in WORKLIST_FILTER_FIELDS)
    found = _WORKLIST_FILTERS.get(values)
    if found is None:
        found = MappingProxyType(validated(serializer_class, query))  # a 400 when refused
        if all(v is None or len(v) <= _WORKLIST_FILTER_VALUE_MAX for v in values):
            if len(_WORKLIST_FILTERS) >= _WORKLIST_FILTERS_MAX:
                _WORKLIST_FILTERS.clear()
            _WORKLIST_FILTERS[values] = found
    return found


# --- Tasks -------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Task")
class TaskSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    patient = serializers.UUIDField(source="patient_id")
    assignee = MemberSerializer(allow_null=True)
    kind = EnumField(TaskKind.choices, enum_name="TaskKindEnum")
    title = serializers.CharField()
    due_on = serializers.DateField()
    month = serializers.SerializerMethodField()
    status = EnumField(TaskStatus.choices, enum_name="TaskStatusEnum")
    origin = EnumField(TaskOrigin.choices, enum_name="TaskOriginEnum")
    reason = serializers.CharField()
    completion_note = serializers.CharField()
    completed_at = serializers.DateTimeField(default_timezone=UTC, allow_null=True)
    time_entry = serializers.UUIDField(source="time_entry_id", allow_null=True)
    created_at = serializers.DateTimeField(default_timezone=UTC)

    def get_month(self, task: Task) -> str:
        return month_label(task.month)


class TaskListApi(ApiView):
    """GET: any role. POST: clinical roles."""

    @extend_schema_serializer(component_name="TaskFilter")
    class FilterSerializer(serializers.Serializer):
        view = serializers.ChoiceField(
            choices=[*selectors.TASK_VIEWS, "all"], required=False, default="open"
        )
        patient = serializers.UUIDField(required=False)

    @extend_schema_serializer(component_name="TaskInput")
    class InputSerializer(serializers.Serializer):
        # A custom task needs a title (timelog.services.TASK_TITLE_MESSAGE).
        body_rules = (
            {
                "anyOf": [
                    {"properties": {"kind": {"not": {"enum": [TaskKind.CUSTOM.value]}}}},
                    {
                        "required": ["title"],
                        "properties": {"title": {"pattern": NON_BLANK_PATTERN}},
                    },
                ]
            },
        )
        patient = serializers.UUIDField()
        kind = EnumField(TaskKind.choices, enum_name="TaskKindEnum")
        title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        due_on = serializers.DateField()
        assignee = serializers.UUIDField(required=False, allow_null=True)

    PageSerializer = page_of(TaskSerializer, "TaskPage")

    write_capability = Capability.LOG_TIME

    @extend_schema(
        operation_id="tasks_list",
        summary="Outreach tasks by view: mine, today, overdue, open (default), closed, all",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: PageSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        f: dict[str, Any] = validated(self.FilterSerializer, request.query_params)
        tasks = selectors.task_list(
            practice=self.practice,
            view=f["view"],
            membership=self.membership,
            patient_id=f.get("patient"),
            today=self.practice.today(),
        )
        return read_page(self, tasks, TaskSerializer, action="task.list")

    @extend_schema(
        operation_id="tasks_create",
        summary="Create an outreach task (one open task per patient, kind and month)",
        request=InputSerializer,
        responses={201: TaskSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        patient = _patient(self, data.pop("patient"))
        data["assignee"] = _member(self.practice, data.get("assignee"), "assignee")
        task = services.task_create(
            practice=self.practice, actor=self.membership, patient=patient, **data
        )
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(ApiView):
    """GET: any role. PATCH: clinical roles reassign, complete or cancel an open task."""

    @extend_schema_serializer(component_name="TaskPatch")
    class PatchSerializer(serializers.Serializer):
        require_any = ("assignee", "status")

        assignee = serializers.UUIDField(required=False, allow_null=True)
        status = serializers.ChoiceField(
            choices=[TaskStatus.DONE, TaskStatus.CANCELLED], required=False
        )
        completion_note = serializers.CharField(required=False, allow_blank=True, default="")
        log_minutes = serializers.IntegerField(
            min_value=1,
            max_value=MAX_ENTRY_MINUTES,
            required=False,
            help_text="With status=done on a call task: log the call's minutes (from "
            "log_started_at, else ending now).",
        )
        log_started_at = AwareDateTimeField(
            required=False, help_text="When the call started (ISO 8601 with offset)."
        )
        contact = ContactFieldsSerializer(
            required=False, help_text="With status=done: record the contact and its outcome."
        )

    write_capability = Capability.LOG_TIME
    version_lock = RowLock(Task, "task_id")

    def _task(self, task_id: str) -> Task:
        tasks = selectors.task_list(practice=self.practice, view="all", today=self.practice.today())
        return get_for_practice_or_404(tasks, self.practice, task_id)

    @extend_schema(
        operation_id="tasks_retrieve",
        summary="One task (audited)",
        responses={200: TaskSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, task_id: str) -> Response:
        task = self._task(task_id)
        return read_answer(self, task, TaskSerializer, patient_id=task.patient_id)

    @extend_schema(
        operation_id="tasks_partial_update",
        summary="Reassign, complete (optionally logging the call) or cancel an open task",
        request=PatchSerializer,
        responses={200: TaskSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, task_id: str) -> Response:
        task = self._task(task_id)
        data = validated(self.PatchSerializer, request.data, partial=True)
        if not any(name in data for name in self.PatchSerializer.require_any):
            raise ValidationError("Give an assignee or a status.")
        with transaction.atomic():  # reassign and complete together, or neither
            if "assignee" in data:
                assignee = _member(self.practice, data["assignee"], "assignee")
                task = services.task_reassign(
                    practice=self.practice, actor=self.membership, task=task, assignee=assignee
                )
            if "status" in data:
                contact = data.get("contact")
                task, _ = contact_services.contact_task_complete(
                    practice=self.practice,
                    actor=self.membership,
                    task=task,
                    note=data.get("completion_note", ""),
                    cancel=data["status"] == TaskStatus.CANCELLED,
                    log_minutes=data.get("log_minutes"),
                    log_started_at=data.get("log_started_at"),
                    contact=contact_input(self.practice, contact) if contact else None,
                    outcome_required=False,  # API contract §4: the contact is optional
                )
        return Response(TaskSerializer(self._task(str(task.pk))).data)
