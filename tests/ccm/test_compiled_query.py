"""CompiledQuery with annotations and a list parameter (`AnyOf`): the SQL it runs is the ORM's
and its instances equal the ORM's (fields, select_related objects and annotations), for any
list of ids (issue 18, target 2: the worklist's rows query)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext

from ccm.tenancy import AnyOf, CompiledQuery
from patients.models import Patient
from tests.factories import PatientFactory, TaskFactory

SENTINEL = [uuid.UUID(int=0)]


def _queryset(practice, ids):
    return (
        Patient.objects.for_practice(practice)
        .select_related("coordinator")
        .annotate(
            open_tasks=Count("tasks", filter=Q(tasks__status="open")),
            label=Concat(F("last_name"), Value(", "), F("first_name")),
        )
        .filter(AnyOf(F("pk"), ids))
        .order_by("mrn")
    )


def _seen(patients):
    return [
        (
            [(f.attname, getattr(p, f.attname)) for f in Patient._meta.concrete_fields],
            p.open_tasks,
            p.label,
            p.coordinator_id and p.coordinator.role,
        )
        for p in patients
    ]


def test_annotated_rows_and_sql_equal_the_orms(practice, coordinator, django_assert_num_queries):
    patients = [PatientFactory(practice=practice, coordinator=coordinator) for _ in range(4)]
    for n, patient in enumerate(patients):
        for month in range(1, n + 1):  # one open task per kind and month
            TaskFactory(patient=patient, due_on=dt.date(2026, month, 15))
    query = CompiledQuery(lambda ids: _queryset(practice, ids), SENTINEL)
    cuts = [
        [p.pk for p in patients],
        [patients[2].pk],
        [patients[3].pk, patients[0].pk, uuid.uuid4()],
        [uuid.uuid4()],
    ]
    for ids in cuts:
        with CaptureQueriesContext(connection) as compiled_sql:
            compiled = query.run(ids)
        with CaptureQueriesContext(connection) as orm_sql:
            expected = list(_queryset(practice, ids))
        assert compiled_sql.captured_queries[0]["sql"] == orm_sql.captured_queries[0]["sql"]
        assert _seen(compiled) == _seen(expected)
        assert len(compiled) == len({i for i in ids if i in {p.pk for p in patients}})
        for patient in compiled:  # the related row came with it
            with django_assert_num_queries(0):
                assert patient.coordinator.role
    assert [p.open_tasks for p in query.run([p.pk for p in patients])] == [0, 1, 2, 3]


def test_any_of_is_one_parameter_whatever_the_lists_length(practice):
    one = _queryset(practice, [uuid.uuid4()]).query.sql_with_params()
    many = _queryset(practice, [uuid.uuid4() for _ in range(30)]).query.sql_with_params()
    assert one[0] == many[0]
    assert len(one[1]) == len(many[1])


def test_a_sentinel_not_among_the_parameters_is_refused(practice):
    query = CompiledQuery(lambda ids: _queryset(practice, [uuid.uuid4()]), SENTINEL)
    with pytest.raises(ValueError, match="not a query"):
        query.run([uuid.uuid4()])
