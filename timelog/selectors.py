"""Reads for time and outreach: entries, the worklist (progress by the billing engine), tasks.

Every selector takes the practice explicitly and has a fixed query count whatever the number
of rows (pinned by tests).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, overload

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    Max,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.base import ModelState
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, JSONObject
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from billing.rules.codes import STAFF_TRACK
from careplans.models import CarePlan, CarePlanVersion
from ccm import tenancy
from ccm.models import Membership, Practice
from ccm.months import last_day
from ccm.selectors import per_row
from ccm.tenancy import AnyOf
from patients.careteam_selectors import call_window_open, call_window_open_q
from patients.models import CallWindow, CallWindowKind, Consent, Patient, Status
from timelog.models import (
    ContactAttempt,
    Outcome,
    RunningTimer,
    Task,
    TaskStatus,
    TimeAdjustment,
    TimeEntry,
)

NO_CONTACT_DAYS = 30
NO_PLAN_FLAG = "No signed care plan"
REVIEW_DUE_FLAG = "Care plan review due"
FIRST_THRESHOLD = STAFF_TRACK.threshold  # R19: 20 staff-pool minutes for 99490


def adjusted(queryset: QuerySet[TimeEntry], practice: Practice) -> QuerySet[TimeEntry]:
    """Annotate `effective_minutes`: minutes after audited adjustments (closed months)."""
    deltas = per_row(
        TimeAdjustment.objects.for_practice(practice).filter(entry=OuterRef("pk")),
        "entry",
        Sum("minutes_delta"),
        IntegerField(),
    )
    return queryset.annotate(effective_minutes=F("minutes") + Coalesce(deltas, Value(0)))


def time_entry_list(
    *,
    practice: Practice,
    patient_id: Any = None,
    month: dt.date | None = None,
    performer_id: Any = None,
) -> QuerySet[TimeEntry]:
    """Entries newest first, with patient, performer and adjustments (fixed query count)."""
    queryset = (
        TimeEntry.objects.for_practice(practice)
        .select_related("patient", "performer__user")
        .prefetch_related(
            Prefetch(
                "adjustments",
                queryset=TimeAdjustment.objects.for_practice(practice).select_related(
                    "actor__user"
                ),
            )
        )
        .order_by("-started_at")
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if month is not None:
        queryset = queryset.filter(billing_month=month)
    if performer_id is not None:
        queryset = queryset.filter(performer_id=performer_id)
    return adjusted(queryset, practice)


def time_entry_get(*, practice: Practice, entry_id: Any) -> TimeEntry:
    return tenancy.get_for_practice_or_404(time_entry_list(practice=practice), practice, entry_id)


# --- Worklist --------------------------------------------------------------------------------


@dataclass
class WorklistRow:
    """One enrolled patient's month: minutes, the engine's next threshold, contact, tasks."""

    patient: Patient
    clinical_staff_minutes: int
    physician_minutes: int
    next_code: str | None
    minutes_needed: int | None
    days_left: int
    behind_pace: bool
    last_contact: dt.datetime | None
    open_tasks: int
    next_task: Task | None = None
    unanswered_attempts: int = 0  # this month's, since the last reached contact
    flags: list[str] = field(default_factory=list)
    call_now: bool = False  # inside a best-time window, outside every do-not-call one

    @property
    def staff_pool(self) -> int:
        return self.clinical_staff_minutes + self.physician_minutes

    @property
    def target(self) -> int | None:
        """Minutes at the next threshold (for the progress bar)."""
        if self.minutes_needed is None:
            return None
        return self.staff_pool + self.minutes_needed

    @property
    def percent(self) -> int:
        target = self.target
        if not target:
            return 100
        return min(100, round(100 * self.staff_pool / target))


@dataclass(frozen=True)
class Pace:
    """Where today sits in the month (R1: the practice's zone)."""

    days_in_month: int
    days_elapsed: int

    @property
    def days_left(self) -> int:
        return self.days_in_month - self.days_elapsed

    def expected_minutes(self) -> int:
        """Staff-pool minutes a patient should have by now to reach 20 by month end."""
        return math.ceil(FIRST_THRESHOLD * self.days_elapsed / self.days_in_month)

    def behind_below(self) -> int:
        """A staff pool under this is behind pace (a month that is over needed all 20)."""
        return FIRST_THRESHOLD if self.days_left == 0 else self.expected_minutes()


def month_pace(month: dt.date, today: dt.date) -> Pace:
    days = last_day(month).day
    if today < month:
        return Pace(days, 0)
    if today > last_day(month):
        return Pace(days, days)
    return Pace(days, today.day)


WORKLIST_FILTERS = {
    "": "All patients",
    "below": f"Below {FIRST_THRESHOLD} minutes",
    "reached": f"{FIRST_THRESHOLD} minutes or more",
    "behind": "Behind pace",
    "no_contact": f"No contact in {NO_CONTACT_DAYS} days",
}
CALL_WINDOW_FILTERS = {"": "Any time", "open": "Call window open now"}
WORKLIST_SORTS = {
    "name": "Name",
    "minutes": "Fewest minutes first",
    "needed": "Closest to the next threshold",
    "contact": "Longest without contact",
    "due": "Next task due",
}


def worklist_base(
    practice: Practice, month: dt.date, coordinator: Membership | None
) -> QuerySet[Patient]:
    """Enrolled now, or left CCM during or after this month (still billable for it, R7)."""
    # The same condition as `enrolled, or disenrolled on or after the month`, written so that
    # the status is an index condition on (practice, status, status_on): the page's count is
    # an index-only scan.
    queryset: QuerySet[Patient] = Patient.objects.for_practice(practice).filter(
        Q(status__in=(Status.ENROLLED, Status.DISENROLLED))
        & (Q(status=Status.ENROLLED) | Q(status_on__gte=month))
    )
    if coordinator is not None:
        queryset = queryset.filter(coordinator=coordinator)
    return queryset


def _no_row(value: Any) -> When:
    # No progress row: the patient has no time this month (see MonthProgress).
    return When(wl__id__isnull=True, then=value)


# What the rows show and the reminder job needs (a patient has many more columns).
ROW_FIELDS = (
    "id",
    "practice_id",
    "mrn",
    "first_name",
    "last_name",
    "status",
    "coordinator_id",
    "billing_practitioner_id",
)


def _worklist_queryset(practice: Practice, month: dt.date, coordinator: Membership | None) -> Any:
    # The last reached contact attempt up to the month's end (the month is in the zone, R1).
    contacts = per_row(
        ContactAttempt.objects.for_practice(practice).filter(
            patient=OuterRef("pk"), outcome=Outcome.REACHED, month__lte=month
        ),
        "patient",
        Max("occurred_at"),
    )
    # The practice in each subquery lets it probe the (practice, patient, …) indexes.
    open_tasks = Task.objects.for_practice(practice).filter(
        patient=OuterRef("pk"), status=TaskStatus.OPEN
    )
    consents = Consent.objects.for_practice(practice).filter(
        patient=OuterRef("pk"), given_on__lte=last_day(month)
    )
    return (
        worklist_base(practice, month, coordinator)
        .only(*ROW_FIELDS)
        # All three columns of the unique key: PostgreSQL drops the join where no column of
        # it is used (the page count) and probes the key where one is.
        .annotate(
            wl=FilteredRelation(
                "month_progress",
                condition=Q(month_progress__practice=practice, month_progress__month=month),
            )
        )
        .annotate(
            wl_staff=Coalesce("wl__clinical_staff_minutes", 0, output_field=IntegerField()),
            wl_physician=Coalesce("wl__physician_minutes", 0, output_field=IntegerField()),
            wl_pool=Coalesce("wl__staff_pool", 0, output_field=IntegerField()),
            # R27 with no countable minutes: 99490 needs its 20.
            wl_next_code=Case(
                _no_row(Value(STAFF_TRACK.base)),
                default=F("wl__next_code"),
                output_field=CharField(),
            ),
            wl_needed=Case(
                _no_row(Value(FIRST_THRESHOLD)),
                default=F("wl__minutes_needed"),
                output_field=IntegerField(),
            ),
            # The row keeps the last contact; without one (a month's first hours, before the
            # hourly job adds rows) it is looked up.
            last_contact=Case(
                _no_row(contacts),
                default=F("wl__last_contact_at"),
                output_field=DateTimeField(),
            ),
            wl_unanswered=Coalesce("wl__unanswered_attempts", 0, output_field=IntegerField()),
            consent_on_file=Exists(consents),
            # R11: a version signed by the month's end (a later revision supersedes it).
            care_plan_signed=Exists(
                CarePlanVersion.objects.for_practice(practice).filter(
                    patient=OuterRef("pk"), signed_on__lte=last_day(month)
                )
            ),
            care_plan_review_on=Subquery(
                CarePlan.objects.for_practice(practice)
                .filter(patient=OuterRef("pk"))
                .values("next_review_on")[:1]
            ),
            next_task_id=Subquery(open_tasks.order_by("due_on", "created_at").values("id")[:1]),
            next_task_due=Subquery(open_tasks.order_by("due_on").values("due_on")[:1]),
            open_task_count=Coalesce(
                per_row(open_tasks, "patient", Count("pk"), IntegerField()), Value(0)
            ),
        )
    )


_SORTS = {
    "name": (),
    "minutes": (F("wl_pool").asc(),),
    "needed": (F("wl_needed").asc(nulls_last=True),),
    "contact": (F("last_contact").asc(nulls_first=True),),
    "due": (F("next_task_due").asc(nulls_last=True),),
}
_NAME_ORDER = ("last_name", "first_name", "mrn", "pk")


def worklist(
    *,
    practice: Practice,
    month: dt.date,
    coordinator: Membership | None = None,
    show: str = "",
    sort: str = "name",
    today: dt.date,
    call_window: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[Patient]:
    """The month's enrolled patients, filtered and sorted in SQL by the stored engine
    progress (MonthProgress, R16-R27), pace, contact, tasks and (`call_window="open"`) the
    patients one may call at `now` (default: now). Turn it into rows with `worklist_rows`
    (a fixed number of queries whatever the number of rows). Pages use `worklist_page_ids`
    and `worklist_page_rows` instead (the same list, cheaper per page)."""
    queryset = _with_call_window(
        _worklist_queryset(practice, month, coordinator), practice, now or timezone.now()
    )
    return _filter_and_sort(queryset, month, show, sort, today, call_window)


def _filter_and_sort(
    queryset: Any, month: dt.date, show: str, sort: str, today: dt.date, call_window: str
) -> Any:
    """`worklist`'s filters and order, on the names both querysets define (wl_pool, wl_needed,
    last_contact, next_task_due, call_open)."""
    if call_window == "open":
        queryset = queryset.filter(call_open=True)
    if show == "below":
        queryset = queryset.filter(wl_pool__lt=FIRST_THRESHOLD)
    elif show == "reached":
        queryset = queryset.filter(wl_pool__gte=FIRST_THRESHOLD)
    elif show == "behind":
        queryset = queryset.filter(wl_pool__lt=month_pace(month, today).behind_below())
    elif show == "no_contact":
        cutoff = timezone.now() - dt.timedelta(days=NO_CONTACT_DAYS)
        queryset = queryset.filter(Q(last_contact__isnull=True) | Q(last_contact__lt=cutoff))
    return queryset.order_by(*_SORTS.get(sort, ()), *_NAME_ORDER)


# Building a worklist queryset (a dozen annotations, each a subquery the ORM resolves and
# clones) costs more Python than its SQL costs PostgreSQL: most of a page's time at 10,000
# enrolled. Its shape depends only on the practice, the month and the coordinator, so each is
# built once per process and reused: querysets are immutable (every filter, annotate or
# order_by returns a copy), and the cached one is never evaluated itself. What depends on the
# time (the call window) or on the request (filter, sort, the page's ids) is added per
# request. Bounded: cleared when full (a process sees a few practices and months).
_QUERYSETS: dict[tuple[Any, ...], Any] = {}
_QUERYSETS_MAX = 256


def _built_once(key: tuple[Any, ...], build: Any) -> Any:
    queryset = _QUERYSETS.get(key)
    if queryset is None:
        if len(_QUERYSETS) >= _QUERYSETS_MAX:
            _QUERYSETS.clear()
        queryset = _QUERYSETS[key] = build()
    return queryset


def worklist_page_ids(
    *,
    practice: Practice,
    month: dt.date,
    coordinator: Membership | None = None,
    show: str = "",
    sort: str = "name",
    today: dt.date,
    call_window: str = "",
    now: dt.datetime | None = None,
) -> PageIds | WorklistIds:
    """The ids of `worklist(...)` with the same arguments, in its order: what a page is cut
    from (then `worklist_page_rows`); `count()` and slices, as a queryset. Only the keys the
    filter and the sort need are computed, and only for them: the row's other columns cost a
    probe per patient, paid for the page alone. A sort by a stored key (minutes, next
    threshold, last contact) reads the page from the front of its index on the progress rows
    (`WorklistIds`); by name, the count and the page's ids are one statement (`PageIds`); by
    next task due, the patients with an open task come from one join
    with the open tasks, then the others by name (`_DueIds`)."""
    coordinator_id = coordinator.pk if coordinator else None
    queryset = _built_once(
        ("ids", practice.pk, month, coordinator_id),
        lambda: _page_ids_queryset(practice, month, coordinator),
    )
    if call_window == "open":
        queryset = queryset.alias(
            call_open=ExpressionWrapper(
                call_window_open_q(practice=practice, now=now or timezone.now()),
                output_field=BooleanField(),
            )
        )
    if sort not in _STORED_SORTS and sort != "due":
        plain = queryset

        def build() -> _PageIdsSql:
            return _page_ids_sql(
                plain, practice, month, coordinator, show, sort, today, call_window
            )

        if call_window == "open" or show == "no_contact":  # their SQL holds the time now
            return PageIds(build())
        # Otherwise the SQL depends only on these: compiled once per process.
        behind = month_pace(month, today).behind_below() if show == "behind" else None
        return PageIds(
            _built_once(("page-ids", practice.pk, month, coordinator_id, show, sort, behind), build)
        )
    if sort == "due":
        filtered = _filter_and_sort(queryset, month, show, "name", today, call_window)
        return _DueIds(filtered, practice)
    ordered = _filter_and_sort(queryset, month, show, sort, today, call_window)
    return WorklistIds(ordered, sort, _STORED_SORTS[sort])


@dataclass(frozen=True)
class _PageIdsSql:
    """A worklist's count and a page of its ids (`LIMIT %s OFFSET %s` appended), as the ORM
    writes them: values are parameters."""

    using: str
    count_sql: str
    count_params: tuple[Any, ...]
    ids_sql: str
    ids_params: tuple[Any, ...]


def _page_ids_sql(
    queryset: Any,
    practice: Practice,
    month: dt.date,
    coordinator: Membership | None,
    show: str,
    sort: str,
    today: dt.date,
    call_window: str,
) -> _PageIdsSql:
    ordered = _filter_and_sort(queryset, month, show, sort, today, call_window)
    # The count without the join to the progress rows where the filter needs no key: an
    # index-only scan (PostgreSQL drops an unused join, but not the columns it asked for).
    # Grouped by the practice (one group), so the count reads only indexed columns.
    filtered = show or call_window
    if filtered:
        count_sql, count_params = (
            ordered.order_by().values("practice_id").annotate(n=Count("*")).values("n")
        ).query.sql_with_params()
    else:
        count_sql, count_params = _base_count_sql(practice, month, coordinator)
    ids_sql, ids_params = ordered.values_list("pk", flat=True).query.sql_with_params()
    return _PageIdsSql(
        using=ordered.db,
        count_sql=count_sql,
        count_params=tuple(count_params),
        ids_sql=ids_sql,
        ids_params=tuple(ids_params),
    )


def _base_count_sql(
    practice: Practice, month: dt.date, coordinator: Membership | None
) -> tuple[str, tuple[Any, ...]]:
    """`worklist_base(...).count()` as one scalar statement: the enrolled, plus those who left
    during or after the month, counted apart. Each part is an index-only scan of one status
    range of (practice, status, status_on), without the OR between them that makes
    PostgreSQL test every entry of both (10,000 enrolled: 0.5 ms against 0.9 ms)."""
    enrolled = Patient.objects.for_practice(practice).filter(status=Status.ENROLLED)
    left = Patient.objects.for_practice(practice).filter(
        status=Status.DISENROLLED, status_on__gte=month
    )
    if coordinator is not None:
        enrolled = enrolled.filter(coordinator=coordinator)
        left = left.filter(coordinator=coordinator)
    # Counted over an indexed column (status), so that each part is an index-only scan.
    (first_sql, first_params), (second_sql, second_params) = (
        part.order_by().values("status").query.sql_with_params() for part in (enrolled, left)
    )
    enrolled_count = f"SELECT count(*) FROM ({first_sql}) AS enrolled"  # noqa: S608 (ORM SQL)
    left_count = f"SELECT count(*) FROM ({second_sql}) AS left_in_or_after"  # noqa: S608
    return f"SELECT ({enrolled_count}) + ({left_count})", (*first_params, *second_params)


class _Ids(ABC):
    """A worklist's ids cut as a queryset is (what the paginator asks of it: `count()`,
    `len()`, iteration, an index, a slice without a step): subclasses give `count` and
    `_cut(start, stop)`."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def _cut(self, start: int, stop: int | None) -> list[Any]: ...

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Any]:
        return iter(self[0 : self.count()])

    @overload
    def __getitem__(self, cut: int) -> Any: ...

    @overload
    def __getitem__(self, cut: slice) -> list[Any]: ...

    def __getitem__(self, cut: int | slice) -> Any:
        if isinstance(cut, int):
            found = self[cut : cut + 1] if cut >= 0 else []
            if not found:
                raise IndexError(cut)
            return found[0]
        if cut.step is not None:
            raise TypeError(f"{type(self).__name__} takes a slice without a step")
        return self._cut(cut.start or 0, cut.stop)


class PageIds(_Ids):
    """The ids of a worklist sorted by name (any filter), cut as a queryset is (`count()`,
    slices, iteration), in the same order as `worklist(...)`.

    Told the page to expect (`expect`), the count and that page's ids are one statement; a
    slice that is not the expected page (a page past the last) is one more query."""

    def __init__(self, sql: _PageIdsSql) -> None:
        self._sql = sql
        self._count: int | None = None
        self._expected: tuple[int, int] | None = None
        self._page: tuple[int, int, list[Any]] | None = None

    def expect(self, number: Any, size: int) -> None:
        """The page (from 1, as text or a number) that will be sliced: read with the count."""
        try:
            page = max(1, int(number or 1))
        except (TypeError, ValueError):
            page = 1
        self._expected = ((page - 1) * size, page * size)

    def _run(self, sql: str, params: list[Any]) -> Any:
        with connections[self._sql.using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def count(self) -> int:
        if self._count is None:
            sql = self._sql
            if self._expected is None:
                (found,) = self._run(
                    f"SELECT COALESCE(({sql.count_sql}), 0)",
                    list(sql.count_params),
                )
            else:
                start, stop = self._expected
                found, ids = self._run(
                    f"SELECT COALESCE(({sql.count_sql}), 0), "
                    f"ARRAY({sql.ids_sql} LIMIT %s OFFSET %s)",
                    [*sql.count_params, *sql.ids_params, stop - start, start],
                )
                self._page = (start, stop, list(ids))
            self._count = int(found)
        return self._count

    def _cut(self, start: int, stop: int | None) -> list[Any]:
        if self._page is not None:
            first, last, ids = self._page
            if start == first and stop is not None and stop <= last:
                return ids[: stop - start]
        if stop is None:
            stop = self.count()
        if start >= stop:
            return []
        sql = self._sql
        (ids,) = self._run(
            f"SELECT ARRAY({sql.ids_sql} LIMIT %s OFFSET %s)",
            [*sql.ids_params, stop - start, start],
        )
        return list(ids)


# The sorts by a key kept on the progress row: (the key for a patient without a row, as
# `_SORTS` orders it; the row's column, which the indexes on MonthProgress order).
_STORED_SORTS = {
    "minutes": ("wl_pool", "wl_row_pool"),
    "needed": ("wl_needed", "wl_row_needed"),
    "contact": ("last_contact", "wl_row_contact"),
}
_NULLS = {"minutes": "", "needed": " NULLS LAST", "contact": " NULLS FIRST", "due": " NULLS LAST"}


def _row_order(sort: str, row_key: str) -> Any:
    """`_SORTS[sort]`'s direction, on the row's own column."""
    (order,) = _SORTS[sort]
    return OrderBy(F(row_key), nulls_first=order.nulls_first, nulls_last=order.nulls_last)


class WorklistIds(_Ids):
    """A worklist's ids sorted by a stored key, cut as a queryset is (`count()`, slices,
    iteration) and in the same order as `worklist(...)`.

    Sorted whole, the key and the name of every patient on the list are joined and sorted
    for each page (the month's rows, a scan of the patients). Instead the page is read in
    two parts, each in the list's order: the patients with a progress row, from the front of
    the index on that key (timelog 0007) - a patient's row is probed only as far as the page
    reaches - and the patients without one (no time this month yet: a month's first hours,
    a patient enrolled since the hourly job ran), whose key is the default or looked up. The
    count tells whether there are any: when every patient has a row (the usual case) the
    second part is not asked for. The page is the front of the two parts' union, in the
    list's order (the same collation: PostgreSQL sorts both)."""

    def __init__(self, ordered: QuerySet[Any], sort: str, keys: tuple[str, str]) -> None:
        self._list, self._sort = ordered, sort
        without_key, row_key = keys
        names = _NAME_ORDER[:-1]
        # Filters on the aliases, not on `wl__…`: a filter across the relation would join it
        # again (a reverse relation joins once per filter call).
        with_row = ordered.filter(wl_id__isnull=False).annotate(sort_key=F(row_key))
        self._with_row = [
            with_row.order_by(_row_order(sort, row_key), *_NAME_ORDER).values_list(
                "pk", "sort_key", *names
            )
        ]
        if _row_order(sort, row_key).nulls_first:
            # The rows without a key come first, by name: many (patients never reached), so
            # they are read from the patients' name index, each one's row probed; the rows
            # with a key from the front of its index (timelog 0008). Sorted as one, every
            # keyless patient's name would be fetched and sorted for each page.
            self._with_row = [
                with_row.filter(**{f"{row_key}__isnull": True})
                .order_by(*_NAME_ORDER)
                .values_list("pk", "sort_key", *names),
                # Ascending as the index is (NULLS LAST: none here).
                with_row.filter(**{f"{row_key}__isnull": False})
                .order_by(F(row_key).asc(), *_NAME_ORDER)
                .values_list("pk", "sort_key", *names),
            ]
        self._without_row = (
            ordered.filter(wl_id__isnull=True)
            .annotate(sort_key=F(without_key))
            .values_list("pk", "sort_key", *names)
        )
        self._counts: tuple[int, int] | None = None

    def _count_both(self) -> tuple[int, int]:
        # One query: the list's size, and how many of it have a row.
        if self._counts is None:
            found = (
                self._list.order_by()
                .annotate(row_id=F("wl_id"))
                .aggregate(total=Count("pk"), rows=Count("row_id"))
            )
            self._counts = (found["total"], found["rows"])
        return self._counts

    def _parts(self, total: int, rows: int) -> list[Any]:
        return [*(self._with_row if rows else []), *([self._without_row] if total - rows else [])]

    def count(self) -> int:
        return self._count_both()[0]

    def _cut(self, start: int, stop: int | None) -> list[Any]:
        total, rows = self._count_both()
        stop = total if stop is None else min(stop, total)
        if start >= stop:
            return []
        parts = [part[:stop] for part in self._parts(total, rows)]
        sql, params = [], []
        for part in parts:
            part_sql, part_params = part.query.sql_with_params()
            sql.append(f"({part_sql})")
            params.extend(part_params)
        # Columns: id, key, last name, first name, MRN (as _SORTS and _NAME_ORDER order them).
        # Only the ORM's SQL of the parts and fixed words are put in; values are parameters.
        query = (
            f"SELECT u.* FROM ({' UNION ALL '.join(sql)}) AS u(id, sort_key, last_name, "  # noqa: S608
            f"first_name, mrn) ORDER BY u.sort_key ASC{_NULLS[self._sort]}, u.last_name ASC, "
            "u.first_name ASC, u.mrn ASC, u.id ASC LIMIT %s OFFSET %s"
        )
        with connections[self._list.db].cursor() as cursor:
            cursor.execute(query, [*params, stop - start, start])
            return [row[0] for row in cursor.fetchall()]


class _DueIds(WorklistIds):
    """The worklist by next task due (the open task due soonest; none: last), by name.

    Sorted whole, every patient's open tasks are joined and grouped for each page. Instead
    in two parts: the patients with an open task, and the patients without one, by name; the
    page is the front of their union in the list's order. A long list (more than
    `_DUE_WALK_FROM` patients: most of them, as a filter rarely leaves fewer) reads each
    patient's first open task (due soonest, then by id) in due order from the (practice,
    status, due_on) index (timelog 0008), as far as the page reaches; a short one (a filter
    that leaves few, whose open tasks may be anywhere in that order) is sorted whole, each of
    its patients' soonest due date probed on the (practice, patient, status, due_on) index."""

    def __init__(self, filtered: QuerySet[Any], practice: Practice) -> None:
        self._list, self._sort, self._counts = filtered, "due", None
        self._short_ids: list[Any] = []
        names = _NAME_ORDER[:-1]
        open_tasks = Task.objects.for_practice(practice).filter(
            patient=OuterRef("pk"), status=TaskStatus.OPEN
        )
        # Joined to its open tasks (an inner join: the filter is on an alias of the same
        # join), keeping the one no other open task of the patient comes before.
        earlier = open_tasks.filter(
            Q(due_on__lt=OuterRef("open_task_due"))
            | Q(due_on=OuterRef("open_task_due"), id__lt=OuterRef("open_task_id"))
        )
        self._probe = (
            Patient.objects.for_practice(practice)
            .annotate(sort_key=Subquery(open_tasks.order_by("due_on").values("due_on")[:1]))
            .order_by(F("sort_key").asc(nulls_last=True), *_NAME_ORDER)
            .values_list("pk", "sort_key", *names)
        )
        self._with_row = [
            filtered.annotate(
                open_task=FilteredRelation(
                    "tasks",
                    condition=Q(tasks__practice=practice, tasks__status=TaskStatus.OPEN),
                )
            )
            .alias(open_task_id=F("open_task__id"), open_task_due=F("open_task__due_on"))
            .filter(open_task_id__isnull=False)
            .filter(~Exists(earlier))
            .annotate(sort_key=F("open_task_due"))
            .order_by(F("sort_key").asc(), *_NAME_ORDER)
            .values_list("pk", "sort_key", *names)
        ]
        self._without_row = (
            filtered.filter(~Exists(open_tasks))
            .annotate(sort_key=Value(None, output_field=DateField()))
            .values_list("pk", "sort_key", *names)
        )

    def _count_both(self) -> tuple[int, int]:
        # One query: the list's size and, when it is short, its ids, so that its page is
        # probed by id rather than filtered out of the practice a second time (the filter
        # is the costly part of a short list).
        if self._counts is None:
            sql, params = self._list.order_by().values("pk").query.sql_with_params()
            query = (
                "SELECT count(*), CASE WHEN count(*) <= %s THEN array_agg(u.id) END "  # noqa: S608
                f"FROM ({sql}) AS u(id)"
            )
            with connections[self._list.db].cursor() as cursor:
                cursor.execute(query, [_DUE_WALK_FROM, *params])
                total, ids = cursor.fetchone()
            self._short_ids = ids or []
            self._counts = (total, 0)
        return self._counts

    def _parts(self, total: int, rows: int) -> list[Any]:
        if total > _DUE_WALK_FROM:
            return [*self._with_row, self._without_row]
        # Short: the probed list is the whole of it (no open task: NULL, last), read by id
        # (from an unnested array: PostgreSQL probes the primary key for each, where an IN
        # list of a few thousand has it scan the practice's patients).
        ids = RawSQL("SELECT unnest(%s::uuid[])", [self._short_ids])
        return [self._probe.filter(pk__in=ids)]


# A list of more patients than this reads the open tasks in due order (`_DueIds`): reading
# them until a page's worth belongs to the list costs about as much as probing this many
# patients' tasks one by one.
_DUE_WALK_FROM = 5000


def _page_ids_queryset(practice: Practice, month: dt.date, coordinator: Membership | None) -> Any:
    contacts = per_row(
        ContactAttempt.objects.for_practice(practice).filter(
            patient=OuterRef("pk"), outcome=Outcome.REACHED, month__lte=month
        ),
        "patient",
        Max("occurred_at"),
    )
    return (
        worklist_base(practice, month, coordinator)
        .annotate(
            wl=FilteredRelation(
                "month_progress",
                condition=Q(month_progress__practice=practice, month_progress__month=month),
            )
        )
        .alias(
            wl_pool=Coalesce("wl__staff_pool", 0, output_field=IntegerField()),
            wl_needed=Case(
                _no_row(Value(FIRST_THRESHOLD)),
                default=F("wl__minutes_needed"),
                output_field=IntegerField(),
            ),
            last_contact=Case(
                _no_row(contacts), default=F("wl__last_contact_at"), output_field=DateTimeField()
            ),
            # The row's own columns (NULL without a row), as the indexes on MonthProgress
            # order them: `WorklistIds` reads the patients with a row by these.
            wl_id=F("wl__id"),
            wl_row_pool=F("wl__staff_pool"),
            wl_row_needed=F("wl__minutes_needed"),
            wl_row_contact=F("wl__last_contact_at"),
        )
    )


def _with_call_window(queryset: Any, practice: Practice, now: dt.datetime) -> Any:
    # In the same query: the worklist keeps its query count.
    best = CallWindow.objects.for_practice(practice).filter(
        patient=OuterRef("pk"), kind=CallWindowKind.BEST
    )
    return queryset.annotate(
        call_open=ExpressionWrapper(
            call_window_open_q(practice=practice, now=now), output_field=BooleanField()
        ),
        call_best_recorded=Exists(best),
    )


def worklist_page_rows(
    ids: Iterable[Any],
    *,
    practice: Practice,
    month: dt.date,
    today: dt.date,
    now: dt.datetime | None = None,
) -> list[WorklistRow]:
    """Rows for one page of `worklist_page_ids`, in the page's order, with their next tasks:
    one query, whose SQL is compiled once per process (`_PageRows`).

    Asked for the page's ids, not in the ids query, because PostgreSQL plans the row columns
    (consent, care plan, call windows: one EXISTS each) for the rows it estimates, not for
    the LIMIT: asked in one query it hashes every consent and call window of the practice;
    asked for the page's ids, it probes the indexes 25 times."""
    rows, _ = worklist_page_rows_and_timer(
        ids, practice=practice, month=month, today=today, now=now, membership=None
    )
    return rows


# `worklist_page_rows_and_timer`'s timer when it did not read it (no rows: no query).
TIMER_UNREAD: Any = object()


def worklist_page_rows_and_timer(
    ids: Iterable[Any],
    *,
    practice: Practice,
    month: dt.date,
    today: dt.date,
    now: dt.datetime | None = None,
    membership: Membership | None,
) -> tuple[list[WorklistRow], RunningTimer | None]:
    """`worklist_page_rows`, and the member's running timer (`timer_get(membership=...)`:
    with its patient's id and name) read in the same statement: the page's header and timer
    column need it, and it cost a query of its own. The timer is TIMER_UNREAD when there
    were no ids (no statement)."""
    wanted = list(ids)
    if not wanted:
        return [], TIMER_UNREAD
    query = _page_rows_query(practice, month)
    fetched = query.fetch(wanted, membership.pk if membership is not None else None)
    found = {values[0]: values for values in fetched}
    running = None
    if membership is not None and fetched and fetched[0][-1] is not None:
        running = _running_timer(fetched[0][-1], query.using, practice.pk, membership.pk)
    # The call window at `now`, from the rows' windows (as `call_window_open_q` answers it in
    # SQL): the only part of the row that depends on the time, so the query keeps its shape.
    local = (now or timezone.now()).astimezone(practice.zone)
    pace = month_pace(month, today)
    behind_below = pace.behind_below()
    contact_cutoff = timezone.now() - dt.timedelta(days=NO_CONTACT_DAYS)
    using, patient_fields = query.using, query.patient_fields
    make_patient = _maker(Patient, using, patient_fields)
    make_task = _maker(Task, using, _NEXT_TASK_ATTNAMES)
    days_left = pace.days_left
    rows = []
    for pk in wanted:
        values = found.get(pk)
        if values is None:  # a patient gone between the two queries (a concurrent delete)
            continue
        (
            staff,
            physician,
            pool,
            next_code,
            needed,
            last_contact,
            unanswered,
            consent_on_file,
            care_plan_signed,
            care_plan_review_on,
            open_task_count,
            windows_json,
            next_task_json,
            _,  # the running timer (the same on every row)
        ) = values[len(patient_fields) :]
        patient = make_patient(values)
        call_now = False  # no window: no best time to be inside
        if windows_json:
            windows = [_window(text) for text in windows_json]
            call_now = call_window_open(windows, local) and any(  # type: ignore[arg-type]
                w.kind == CallWindowKind.BEST for w in windows
            )
        row = WorklistRow(
            patient=patient,
            clinical_staff_minutes=staff,
            physician_minutes=physician,
            next_code=next_code or None,
            minutes_needed=needed,
            days_left=days_left,
            behind_pace=pool < behind_below,
            last_contact=last_contact,
            open_tasks=open_task_count,
            next_task=None
            if next_task_json is None
            else _next_task(next_task_json, make_task, practice.pk, patient.pk),
            call_now=call_now,
            unanswered_attempts=unanswered,
        )
        # The flags in `_row`'s order.
        if not consent_on_file:
            row.flags.append("No consent on file")
        if patient.billing_practitioner_id is None:
            row.flags.append("No billing practitioner")
        if last_contact is None or last_contact < contact_cutoff:
            row.flags.append(f"No contact in {NO_CONTACT_DAYS} days")
        if not care_plan_signed:
            row.flags.append(NO_PLAN_FLAG)
        elif care_plan_review_on is not None and care_plan_review_on <= today:
            row.flags.append(REVIEW_DUE_FLAG)
        rows.append(row)
    return rows, running


# The running timer's columns read with the rows, and its patient's (the header shows the
# name; the timer column compares the id).
_TIMER_FIELDS = (
    "id",
    "practice_id",
    "membership_id",
    "patient_id",
    "started_at",
    "activity",
    "note",
)
_TIMER_PATIENT_FIELDS = ("id", "practice_id", "first_name", "last_name")


def _running_timer(text: Any, using: str, practice_id: Any, membership_id: Any) -> RunningTimer:
    """The `wl_timer` column as `timer_get` makes it (its patient's other columns deferred:
    read on access)."""
    found = json.loads(text) if isinstance(text, str | bytes) else text
    patient_id = uuid.UUID(found["patient_id"])
    timer: RunningTimer = _instance(
        RunningTimer,
        using,
        _TIMER_FIELDS,
        (
            uuid.UUID(found["id"]),
            practice_id,
            membership_id,
            patient_id,
            dt.datetime.fromisoformat(found["started_at"]),
            found["activity"],
            found["note"],
        ),
    )
    patient = _instance(
        Patient,
        using,
        _TIMER_PATIENT_FIELDS,
        (patient_id, practice_id, found["first_name"], found["last_name"]),
    )
    RunningTimer.patient.field.set_cached_value(timer, patient)
    return timer


# A page's ids, and the member whose running timer is read with them: the parameters of the
# compiled rows query (never a patient's or a membership's id).
_PAGE_IDS_SENTINEL = [uuid.UUID(int=0)]
_TIMER_MEMBER_SENTINEL = uuid.UUID(int=1)

# The row's columns after the patient's (ROW_FIELDS), in `worklist_page_rows`' order.
_ROW_COLUMNS = (
    "wl_staff",
    "wl_physician",
    "wl_pool",
    "wl_next_code",
    "wl_needed",
    "last_contact",
    "wl_unanswered",
    "consent_on_file",
    "care_plan_signed",
    "care_plan_review_on",
    "open_task_count",
    "wl_windows",
    "wl_next_task",
    "wl_timer",
)


@dataclass(frozen=True)
class _PageRows:
    """The rows query of a page of ids as plain tuples (the patient's ROW_FIELDS, then
    _ROW_COLUMNS), its SQL compiled once: the ORM's SQL for `_rows_queryset(...)` with the ids
    as one array parameter. No model instances on the way (the ORM's row building was most
    of the rows' cost): `worklist_page_rows` makes the patients and tasks the rows show."""

    using: str
    sql: str  # parameters %(ids)s (a uuid[] literal), %(member)s; the practice and month literals
    pick: Any  # the SELECT's row -> the wanted columns in order
    patient_fields: tuple[str, ...]

    def fetch(self, ids: list[Any], membership_id: Any = None) -> list[tuple[Any, ...]]:
        """The rows of `ids`; each ends with `membership_id`'s running timer (JSON, or None)."""
        connection = connections[self.using]
        # The ids as one array literal ('{id,id}', cast to uuid[] in the SQL): one text value
        # to quote instead of a list of UUIDs to adapt one by one.
        params = {
            "ids": "{" + ",".join(map(_uuid_text, ids)) + "}",
            "member": None if membership_id is None else _uuid_text(membership_id),
        }
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched = cursor.fetchall()
        pick = self.pick
        return [pick(row) for row in fetched]


def _uuid_text(value: Any) -> str:
    """A patient id as an array element: a UUID's text, anything else parsed as one first
    (never raw text inside the literal)."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def _page_rows_query(practice: Practice, month: dt.date) -> _PageRows:
    """The rows of a page of ids, compiled once per (practice, month) and process: building
    and compiling this query (a dozen annotated subqueries) cost more Python than the rest of
    the page. tests/timelog/test_worklist_page.py holds its rows equal to the worklist's."""
    query: _PageRows = _built_once(
        ("rows", practice.pk, month), lambda: _compile_page_rows(practice, month)
    )
    return query


def _compile_page_rows(practice: Practice, month: dt.date) -> _PageRows:
    wanted = (*ROW_FIELDS, *_ROW_COLUMNS)
    timer = (
        RunningTimer.objects.for_practice(practice)
        .filter(membership_id=_TIMER_MEMBER_SENTINEL)
        .order_by()
        .values(
            t=JSONObject(
                **{name: name for name in _TIMER_FIELDS if name not in ("practice_id",)},
                first_name="patient__first_name",
                last_name="patient__last_name",
            )
        )[:1]
    )
    queryset = (
        _rows_queryset(practice, month)
        .annotate(wl_timer=Subquery(timer))
        .filter(AnyOf(F("pk"), _PAGE_IDS_SENTINEL))
        .values_list(*wanted)
    )
    query = queryset.query
    sql, values = query.sql_with_params()
    params = list(values)
    slots = {
        "ids": [i for i, param in enumerate(params) if param == _PAGE_IDS_SENTINEL],
        "member": [i for i, param in enumerate(params) if param == _TIMER_MEMBER_SENTINEL],
    }
    # The SELECT's columns as the ORM lists them (ValuesListIterable's names).
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    if any(len(found) != 1 for found in slots.values()) or sorted(names) != sorted(wanted):
        raise ValueError(f"not the worklist's rows query: {sql}")
    # The SQL holds the other values as literals, as the ORM's client-side binding sends
    # them; the page's ids and the member are its parameters, named. Not prepared on the
    # server: a statement prepared on one connection is lost behind a transaction-mode
    # pooler (PgBouncer).
    markers = {name: f"worklist-page-{name}-{uuid.uuid4()}" for name in slots}
    for name, (slot,) in slots.items():
        params[slot] = markers[name]
    literal = connections[queryset.db].ops.compose_sql(sql, params)  # type: ignore[attr-defined]
    literal = literal.replace("%", "%%")
    casts = {"ids": "uuid[]", "member": "uuid"}
    for name, marker in markers.items():
        quoted = f"'{marker}'"
        if literal.count(quoted) != 1:
            raise ValueError(f"not the worklist's rows query: {sql}")
        literal = literal.replace(quoted, f"%({name})s::{casts[name]}")
    return _PageRows(
        using=queryset.db,
        sql=literal,
        pick=itemgetter(*(names.index(name) for name in wanted)),
        patient_fields=ROW_FIELDS,
    )


def _instance(model: Any, using: str, names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """`model.from_db(using, names, values)` (an instance of these columns, the others
    deferred: read on access), without its walk over every field of the model: the state and
    the values set as from_db and unpickling set them. Falls back to from_db for a model with
    init signal receivers (none today)."""
    return _maker(model, using, names)(values)


def _maker(model: Any, using: str, names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], Any]:
    """`_instance` of these columns for many rows: the signal receivers looked up once."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return lambda values: model.from_db(using, list(names), list(values[: len(names)]))
    new = model.__new__
    count = len(names)

    def make(values: tuple[Any, ...]) -> Any:
        obj = new(model)
        state = ModelState()
        state.db, state.adding = using, False
        found = obj.__dict__
        found["_state"] = state
        found.update(zip(names, values[:count], strict=True))
        return obj

    return make


class _Window:
    """A call window read with the row (what `call_window_open` reads of a CallWindow)."""

    __slots__ = ("ends_at", "kind", "starts_at", "weekdays")

    def __init__(self, kind: str, weekdays: list[int], starts_at: dt.time, ends_at: dt.time):
        self.kind, self.weekdays, self.starts_at, self.ends_at = kind, weekdays, starts_at, ends_at


def _window(text: Any) -> _Window:
    found = json.loads(text) if isinstance(text, str | bytes) else text
    return _Window(
        found["kind"],
        found["weekdays"],
        dt.time.fromisoformat(found["starts_at"]),
        dt.time.fromisoformat(found["ends_at"]),
    )


# The next task's columns that a row shows (the page and the API): read with the row.
_NEXT_TASK_FIELDS = ("id", "practice_id", "patient_id", "kind", "title", "due_on")


def _next_task(
    text: Any, make: Callable[[tuple[Any, ...]], Any], practice_id: Any, patient_id: Any
) -> Task:
    """The patient's next open task (the row's `wl_next_task`, read with the row) as the ORM
    makes a Task of these columns (`.only()`: any other column is read on access). Its
    practice and patient are the row's (the subquery's filter), not parsed again."""
    found = json.loads(text) if isinstance(text, str | bytes) else text
    values = (
        uuid.UUID(found["id"]),
        practice_id,
        patient_id,
        found["kind"],
        found["title"],
        dt.date.fromisoformat(found["due_on"]),
    )
    task: Task = make(values)
    return task


_NEXT_TASK_ATTNAMES = _NEXT_TASK_FIELDS  # the JSON keys are the attnames


def _rows_queryset(practice: Practice, month: dt.date) -> Any:
    windows = (
        CallWindow.objects.for_practice(practice)
        .filter(patient=OuterRef("pk"))
        .order_by()
        .values(
            w=JSONObject(kind="kind", weekdays="weekdays", starts_at="starts_at", ends_at="ends_at")
        )
    )
    # The task `next_task_id` names (the same order), with the columns a row shows.
    next_task = (
        Task.objects.for_practice(practice)
        .filter(patient=OuterRef("pk"), status=TaskStatus.OPEN)
        .order_by("due_on", "created_at")
        .values(t=JSONObject(**{name: name for name in _NEXT_TASK_FIELDS}))[:1]
    )
    return _worklist_queryset(practice, month, None).annotate(
        wl_windows=ArraySubquery(windows), wl_next_task=Subquery(next_task)
    )


def worklist_rows(
    patients: Iterable[Patient], *, month: dt.date, today: dt.date
) -> list[WorklistRow]:
    """Rows for the patients of a `worklist` (one more query: their next tasks)."""
    pace = month_pace(month, today)
    contact_cutoff = timezone.now() - dt.timedelta(days=NO_CONTACT_DAYS)
    rows = [_row(patient, pace, contact_cutoff, today) for patient in patients]
    _attach_next_tasks(rows)
    return rows


def _row(patient: Any, pace: Pace, contact_cutoff: dt.datetime, today: dt.date) -> WorklistRow:
    last_contact = patient.last_contact
    row = WorklistRow(
        patient=patient,
        clinical_staff_minutes=patient.wl_staff,
        physician_minutes=patient.wl_physician,
        next_code=patient.wl_next_code or None,
        minutes_needed=patient.wl_needed,
        days_left=pace.days_left,
        behind_pace=patient.wl_pool < pace.behind_below(),
        last_contact=last_contact,
        open_tasks=patient.open_task_count,
        call_now=bool(getattr(patient, "call_open", False))
        and bool(getattr(patient, "call_best_recorded", False)),
        unanswered_attempts=patient.wl_unanswered,
    )
    if not patient.consent_on_file:
        row.flags.append("No consent on file")
    if patient.billing_practitioner_id is None:
        row.flags.append("No billing practitioner")
    if last_contact is None or last_contact < contact_cutoff:
        row.flags.append(f"No contact in {NO_CONTACT_DAYS} days")
    if not patient.care_plan_signed:
        row.flags.append(NO_PLAN_FLAG)
    elif patient.care_plan_review_on is not None and patient.care_plan_review_on <= today:
        row.flags.append(REVIEW_DUE_FLAG)
    return row


def _attach_next_tasks(rows: list[WorklistRow]) -> None:
    wanted = [r.patient.next_task_id for r in rows if r.patient.next_task_id]  # type: ignore[attr-defined]
    if not wanted:
        return
    # The scoped manager: runs only inside the request's (or job's) practice scope.
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=wanted)}
    for row in rows:
        row.next_task = tasks.get(row.patient.next_task_id)  # type: ignore[attr-defined]


# --- Tasks -----------------------------------------------------------------------------------

TASK_VIEWS = {
    "mine": "My open tasks",
    "today": "Due today",
    "overdue": "Overdue",
    "open": "All open tasks",
    "closed": "Closed",
}


def task_list(
    *,
    practice: Practice,
    view: str = "mine",
    membership: Membership | None = None,
    patient_id: Any = None,
    today: dt.date,
) -> QuerySet[Task]:
    """Tasks by view (mine/today/overdue/open/closed), soonest due first; fixed query count."""
    queryset = Task.objects.for_practice(practice).select_related(
        "patient", "assignee__user", "completed_by__user"
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if view == "all":
        return queryset.order_by("due_on", "created_at")
    if view == "closed":
        return queryset.exclude(status=TaskStatus.OPEN).order_by("-completed_at")
    queryset = queryset.filter(status=TaskStatus.OPEN)
    if view == "mine" and membership is not None:
        queryset = queryset.filter(assignee=membership)
    elif view == "today":
        queryset = queryset.filter(due_on=today)
    elif view == "overdue":
        queryset = queryset.filter(due_on__lt=today)
    return queryset.order_by("due_on", "created_at")
