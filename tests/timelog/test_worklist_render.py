"""The worklist's rows, pager and filter selects, built in Python (timelog.worklist_render),
read as the template they replaced rendered them: worklist_rows_reference.html (the template
as it was at 6bf49e0) rendered with the context the view built then, compared with what the
page and its htmx answer send now, over every page, sort and filter of the demo practice, for
a member who may log time (with and without a running timer) and for one who may not."""

import io
import json
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.core.paginator import Paginator
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from ccm.months import month_label, parse_month, previous_month
from ccm.pages import month_links
from ccm.roles import Capability, can
from ccm.tenancy import practice_scope
from patients.models import Patient, Status
from tests.factories import MembershipFactory, enroll_totp
from timelog import selectors, services, worklist_render
from timelog.forms import WorklistFilterForm
from timelog.views import PAGE_SIZE

REFERENCE = (Path(__file__).parent / "worklist_rows_reference.html").read_text()
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _same(html: str) -> str:
    """HTML compared as a browser reads it: runs of white space as one space, and the CSRF
    token (masked anew on every read) left out."""
    return " ".join(CSRF.sub('name="csrfmiddlewaretoken" value="…"', html).split())


def _reference(membership, params: dict[str, str]) -> str:
    """The rows as the template rendered them, with the context the view built at 6bf49e0."""
    practice = membership.practice
    url = "/worklist/?" + urlencode(params)
    request = RequestFactory().get(url)
    request.user = membership.user
    request.membership = membership
    request.practice = practice
    form = WorklistFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    month = parse_month(data["month"]) if data.get("month") else practice.this_month()
    default_who = "mine" if can(membership, Capability.COORDINATE_CARE) else "all"
    who = data.get("who") or default_who
    with practice_scope(practice), timezone.override(practice.zone):
        ids = selectors.worklist_page_ids(
            practice=practice,
            month=month,
            coordinator=membership if who == "mine" else None,
            show=data.get("show", ""),
            sort=data.get("sort") or "name",
            today=practice.today(),
            call_window=data.get("call_window", ""),
        )
        page = Paginator(ids, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = selectors.worklist_page_rows(
            page.object_list, practice=practice, month=month, today=practice.today()
        )
        query = request.GET.copy()
        query.pop("page", None)

        def task_url(row):
            return reverse("timelog:task-detail", kwargs={"task_id": row.next_task.pk})

        context = {
            "page": page,
            "rows": rows,
            "lines": [
                (
                    row,
                    reverse("patients:patient-detail", kwargs={"patient_id": row.patient.pk}),
                    task_url(row) if row.next_task else "",
                )
                for row in rows
            ],
            "query": query.urlencode(),
            **month_links(month),
            "who": who,
            "today": practice.today(),
            "clinical": can(membership, Capability.LOG_TIME),
        }
        return engines["django"].from_string(REFERENCE).render(context, request)


def _now(client: Client, params: dict[str, str]) -> tuple[str, str]:
    """(the htmx answer, the full page) as sent now."""
    url = "/worklist/?" + urlencode(params)
    partial = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="worklist")
    full = client.get(url)
    assert partial.status_code == full.status_code == 200
    return partial.content.decode(), full.content.decode()


def _params(month: str) -> list[dict[str, str]]:
    cases: list[dict[str, str]] = [{}, {"month": month}, {"month": month, "who": "all"}]
    for sort in selectors.WORKLIST_SORTS:
        cases.append({"month": month, "who": "all", "sort": sort})
    for show in selectors.WORKLIST_FILTERS:
        cases.append({"month": month, "who": "all", "show": show, "sort": "contact"})
    for page in ("2", "3", "99", "x"):
        cases.append({"month": month, "who": "all", "page": page})
    cases.append({"month": month, "who": "all", "call_window": "open"})
    cases.append({"who": "nobody", "sort": "bogus", "show": "<b>"})  # refused values
    return cases


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO())
    from ccm.models import Practice

    practice = Practice.objects.get(slug="demo")
    with practice_scope(practice):
        # A name that needs escaping, on a row of its own page.
        patient = Patient.objects.filter(status=Status.ENROLLED).order_by("mrn").first()
        patient.last_name = "O'Brien & <Sons>"
        patient.first_name = 'Ann "Quote"'
        patient.save(update_fields=["last_name", "first_name"])
    return practice


def _client(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def _compare(membership, client: Client, month: str) -> int:
    compared = 0
    for params in _params(month):
        expected = _same(_reference(membership, params))
        partial, full = _now(client, params)
        assert _same(partial) == expected, params
        assert expected in _same(full), params
        compared += expected.count("<tr>")
    return compared


def test_the_rows_read_as_the_template_wrote_them_over_the_demo_practice(demo):
    from ccm.models import Membership, Role

    with practice_scope(demo):
        coordinator = (
            Membership.objects.filter(role=Role.COORDINATOR).select_related("user").first()
        )
        this = month_label(demo.this_month())
        last = month_label(previous_month(demo.this_month()))
        client = _client(coordinator)
        rows = _compare(coordinator, client, this) + _compare(coordinator, client, last)
        assert rows > 100  # the comparison saw rows, not only empty tables
        # A running timer: "timing…" on its patient's row, no start form on the others.
        patient = Patient.objects.filter(status=Status.ENROLLED).order_by("mrn").first()
        services.timer_start(practice=demo, actor=coordinator, patient=patient)
        body = "".join(_now(client, {"who": "all", "page": n})[0] for n in ("1", "2"))
        assert body.count("timing…") == 1
        assert "Start timer</button>" not in body
        _compare(coordinator, client, this)
        # A member who may not log time: no timer column.
        biller = MembershipFactory(practice=demo, role=Role.BILLER)
        enroll_totp(biller.user)
        assert not can(biller, Capability.LOG_TIME)
        client = _client(biller)
        _compare(biller, client, this)
        assert "Start timer" not in _now(client, {"who": "all"})[0]


def test_the_escaped_name_is_escaped_once(demo):
    from ccm.models import Membership, Role

    with practice_scope(demo):
        coordinator = (
            Membership.objects.filter(role=Role.COORDINATOR).select_related("user").first()
        )
    client = _client(coordinator)
    body = "".join(_now(client, {"who": "all", "page": n})[0] for n in ("1", "2"))
    assert "O&#x27;Brien &amp; &lt;Sons&gt;, Ann &quot;Quote&quot;</a>" in body
    assert 'aria-label="Start timer for Ann &quot;Quote&quot; O&#x27;Brien &amp; &lt;Sons&gt;"' in (
        body
    )
    assert "<Sons>" not in body


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"who": "all", "show": "behind", "sort": "due", "call_window": "open"},
        {"who": "nobody", "sort": "bogus", "show": '"><script>', "call_window": "x"},
        {"show": ""},
    ],
)
def test_the_filter_selects_are_the_widgets_html(data):
    form = WorklistFilterForm(data)
    form.is_valid()
    for name in ("who", "show", "sort", "call_window"):
        assert worklist_render.select(form[name]) == str(form[name])


def test_the_pager_is_the_pager_template(db):
    template = engines["django"].get_template("pager.html")
    for count, number in ((0, 1), (10, 1), (60, 1), (60, 2), (60, 3)):
        page = Paginator(list(range(count)), PAGE_SIZE).get_page(number)
        for query in ("", "who=all&month=2026-10", "show=%3Cb%3E"):
            expected = template.render({"page": page, "query": query, "noun": "patients"})
            got = worklist_render.pager_html(page, query=query, noun="patients")
            assert _same(got) == _same(expected)


def test_the_api_rows_are_the_serializers_rows_over_the_demo_practice(demo):
    from timelog.apis import WorklistRowSerializer

    month = demo.this_month()
    compared = 0
    seen: set[str] = set()
    with practice_scope(demo), timezone.override(demo.zone):
        for sort in selectors.WORKLIST_SORTS:
            for show in selectors.WORKLIST_FILTERS:
                for when in (month, previous_month(month)):
                    kw = {"practice": demo, "month": when, "today": demo.today()}
                    ids = list(selectors.worklist_page_ids(**kw, show=show, sort=sort))
                    rows = selectors.worklist_page_rows(ids, **kw)
                    expected = WorklistRowSerializer(rows, many=True).data
                    assert worklist_render.api_rows(rows) == expected
                    compared += len(rows)
                    for row in rows:
                        seen.update(
                            name
                            for name, value in (
                                ("task", row.next_task),
                                ("contact", row.last_contact),
                                ("flag", row.flags),
                                ("all reached", row.next_code is None),
                                ("behind", row.behind_pace),
                            )
                            if value
                        )
    assert compared > 100
    assert seen == {"task", "contact", "flag", "all reached", "behind"}


def test_the_api_sends_the_serializers_json(demo):
    """Over HTTP, the JSON of every page is the serializer's (dates, UUIDs, nulls alike)."""
    from ccm.models import Membership, Role
    from timelog.apis import WorklistRowSerializer

    with practice_scope(demo):
        coordinator = (
            Membership.objects.filter(role=Role.COORDINATOR).select_related("user").first()
        )
    client = _client(coordinator)
    month = month_label(previous_month(demo.this_month()))
    body = client.get(f"/api/v1/worklist/?month={month}&sort=contact").json()
    with practice_scope(demo), timezone.override(demo.zone):
        kw = {"practice": demo, "month": parse_month(month), "today": demo.today()}
        ids = list(selectors.worklist_page_ids(**kw, sort="contact"))[: len(body["results"])]
        rows = selectors.worklist_page_rows(ids, **kw)
    expected = json.loads(JSONRenderer().render(WorklistRowSerializer(rows, many=True).data))
    assert body["results"] == expected
    assert body["results"]
