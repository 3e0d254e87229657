"""The billing dashboard (home of admins and billers): this month's numbers from the stored
engine results, this practice's only; a fixed query count; a script-free SVG chart of closed
months; and the stored claim (MonthProgress billable, projected_amount) kept by writes and
repaired by the reconcile job."""

import datetime as dt
import re
from decimal import Decimal
from unittest import mock
from xml.etree import ElementTree

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import dashboard as dash
from billing.close import services as billing_services
from billing.models import CloseStatus, FeeSchedule, MonthClose
from billing.progress import services as progress_services
from ccm.tenancy import practice_scope
from patients.models import Patient, Status
from tests.billing.conftest import ready_patient
from tests.factories import MembershipFactory, PatientFactory, TimeEntryFactory
from tests.helpers import frozen_clock
from tests.timelog.conftest import log_time, make_enrolled
from timelog import services as time_services
from timelog.models import MonthProgress

UTC = dt.UTC
OCTOBER, SEPTEMBER = dt.date(2026, 10, 1), dt.date(2026, 9, 1)
# October 20 in New York: 20 of 31 days gone, so a staff pool under ceil(20 * 20 / 31) = 13
# minutes is behind pace (timelog.selectors.month_pace).
NOW = dt.datetime(2026, 10, 20, 15, 0, tzinfo=UTC)
FEE_99490 = Decimal("60.00")  # the practice's fee (R26), not the reference 66.13


frozen = frozen_clock(NOW)


def _ready(practice, physician, coordinator, mrn):
    """Enrolled, with a signed plan whose copy the patient has (R11): billable at 20 min."""
    return ready_patient(practice, physician, coordinator, mrn)


def _time(patient, performer, minutes, *, day=5, month=10, practitioner="billing"):
    return TimeEntryFactory(
        patient=patient,
        performer=performer,
        practitioner=patient.billing_practitioner if practitioner == "billing" else None,
        started_at=dt.datetime(2026, month, day, 14, tzinfo=UTC),
        minutes=minutes,
    )


def _close(practice, month, status=CloseStatus.CLOSED, claims=0, amount="0"):
    return MonthClose.objects.for_practice(practice).create(
        practice=practice, month=month, status=status, claims=claims, amount=Decimal(amount)
    )


@pytest.fixture
def scenario(practice, other_practice, physician, coordinator, outsider):
    """Five enrolled patients in October: 25 min (bills 99490), 15, 5, none, and 22 min with
    no billing practitioner; a candidate; a busier other practice that must never count."""
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99490", amount=FEE_99490
    )
    patients = {
        name: _ready(practice, physician, coordinator, name)
        for name in ("full", "mid", "low", "none", "unassigned")
    }
    Patient.objects.unscoped().filter(pk=patients["unassigned"].pk).update(
        billing_practitioner=None
    )
    patients["unassigned"].billing_practitioner = None
    _time(patients["full"], coordinator, 25)
    _time(patients["full"], coordinator, 30, month=9)  # September: not this month
    _time(patients["mid"], coordinator, 15, day=6)
    _time(patients["low"], coordinator, 5, day=7)
    _time(patients["unassigned"], coordinator, 22, day=8, practitioner=None)
    PatientFactory(practice=practice, status=Status.CANDIDATE)
    MembershipFactory(practice=practice, role="coordinator", user__full_name="Nia Nurse")
    MembershipFactory(
        practice=practice, role="coordinator", is_active=False, user__full_name="Gone Away"
    )
    _close(practice, dt.date(2026, 8, 1), claims=3, amount="150.00")
    _close(practice, SEPTEMBER, claims=4, amount="210.50")
    _close(practice, dt.date(2026, 7, 1), status=CloseStatus.RUNNING, claims=1, amount="9.99")
    _close(practice, dt.date(2026, 6, 1), status=CloseStatus.REOPENED, claims=2, amount="8.88")
    # The other practice: more patients, more minutes, more money, a closed month.
    FeeSchedule.objects.for_practice(other_practice).create(
        practice=other_practice, code="99490", amount=Decimal("99.00")
    )
    other_physician = MembershipFactory(practice=other_practice, role="physician")
    other_nurse = MembershipFactory(practice=other_practice, role="coordinator")
    for n in range(3):
        patient = _ready(other_practice, other_physician, other_nurse, f"O-{n}")
        _time(patient, other_nurse, 25, day=3 + n)
    _close(other_practice, SEPTEMBER, claims=77, amount="7777.00")
    return patients


def _page(client):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/home/")
    assert response.status_code == 200
    return response


@pytest.mark.usefixtures("scenario")
class TestNumbers:
    def test_this_months_numbers_count_this_practice_only(self, biller_client):
        numbers = _page(biller_client).context["dashboard"]["numbers"]
        assert numbers.month == OCTOBER
        assert (numbers.enrolled, numbers.on_worklist) == (5, 5)
        # R16/R19: 25 and 22 staff-pool minutes reach 20; 15, 5 and none do not.
        assert (numbers.reached, numbers.below) == (2, 3)
        assert numbers.behind == 2  # 5 and 0 minutes are under the 13 expected by Oct 20
        # The engine bills 99490 at the practice's fee for "full"; "unassigned" bills too but
        # a close makes no claim without a billing practitioner.
        assert (numbers.billable, numbers.projected) == (1, FEE_99490)
        assert numbers.billable_without_practitioner == 1
        assert numbers.pending == 0

    def test_minutes_by_member_are_this_months_of_this_practices_members(
        self, biller_client, coordinator
    ):
        members = _page(biller_client).context["dashboard"]["members"]
        shown = [(m.user.full_name or m.user.email, m.minutes) for m in members]
        # 25 + 15 + 5 + 22 in October; an active coordinator without time shows with 0; the
        # inactive one, the physician without time and the other practice's nurse do not.
        assert shown == [(coordinator.user.full_name, 67), ("Nia Nurse", 0)]

    def test_the_chart_and_table_show_closed_months_only_oldest_first(self, biller_client):
        response = _page(biller_client)
        closed = response.context["dashboard"]["closed"]
        assert [(c.month, c.claims, c.amount) for c in closed] == [
            (dt.date(2026, 8, 1), 3, Decimal("150.00")),
            (SEPTEMBER, 4, Decimal("210.50")),
        ]
        svg = str(response.context["dashboard"]["chart"])
        labels = dict.fromkeys(re.findall(r">(\d{4}-\d{2})<", svg))  # axis and bar labels
        assert list(labels) == ["2026-08", "2026-09"]
        assert "$150" in svg
        assert "$7,777" not in svg
        table = response.content.decode().split('id="dash-closed"')[1].split("</table>")[0]
        assert "2026-08" in table
        assert "210.50" in table
        assert "2026-07" not in table
        assert "2026-06" not in table
        assert "7,777" not in table

    def test_every_number_links_to_the_list_behind_it(self, biller_client):
        html = _page(biller_client).content.decode()
        patients = html.split('id="dash-patients"')[1].split("</ul>")[0]
        assert '<a href="/patients/?status=enrolled"><strong>5</strong> enrolled' in patients
        assert 'show=reached"><strong>2</strong> reached 20' in patients
        assert '?month=2026-10&amp;who=all&amp;show=below"><strong>3</strong>' in patients
        assert '?month=2026-10&amp;who=all&amp;show=behind"><strong>2</strong>' in patients
        projected = html.split('id="dash-projected"')[1].split("</ul>")[0]
        month_page = "/billing/months/2026-10/"
        assert f'<a href="{month_page}"><strong>$60.00</strong>' in projected
        assert f'<a href="{month_page}"><strong>1</strong> claim<' in projected
        closed = html.split('id="dash-closed"')[1].split("</table>")[0]
        assert '<a href="/billing/months/2026-09/">4</a>' in closed
        members = html.split('id="dash-members"')[1].split("</table>")[0]
        assert "&amp;performer=" in members
        assert '">67</a>' in members

    def test_the_linked_worklists_have_as_many_patients_as_the_numbers_say(self, biller_client):
        numbers = _page(biller_client).context["dashboard"]["numbers"]
        for show, expected in (("", numbers.on_worklist), ("below", numbers.below)):
            with time_machine.travel(NOW, tick=False):
                page = biller_client.get(f"/worklist/?month=2026-10&who=all&show={show}")
            assert page.context["page"].paginator.count == expected
        with time_machine.travel(NOW, tick=False):
            page = biller_client.get("/worklist/?month=2026-10&who=all&show=behind")
        assert page.context["page"].paginator.count == numbers.behind

    def test_the_projection_is_what_closing_the_month_then_bills(self, practice, biller_client):
        numbers = _page(biller_client).context["dashboard"]["numbers"]
        with time_machine.travel(dt.datetime(2026, 11, 2, 15, tzinfo=UTC), tick=False):
            close = billing_services.month_close(practice_id=practice.pk, month=OCTOBER)
        assert (close.claims, close.amount) == (numbers.billable, numbers.projected)

    def test_the_admin_sees_the_dashboard_with_the_practice_links(self, admin_client):
        response = _page(admin_client)
        assert response.context["dashboard"]["numbers"].enrolled == 5
        assert b"Members and roles" in response.content

    def test_coordinators_and_physicians_keep_their_home(
        self, coordinator_client, physician_client
    ):
        for client in (coordinator_client, physician_client):
            response = _page(client)
            assert "dashboard" not in response.context
            assert b'id="dashboard-h"' not in response.content
            assert b"CCM patients" in response.content

    def test_the_outsider_sees_only_the_other_practices_numbers(self, outsider_client):
        context = _page(outsider_client).context["dashboard"]
        numbers = context["numbers"]
        assert (numbers.enrolled, numbers.reached, numbers.billable) == (3, 3, 3)
        assert numbers.projected == Decimal("297.00")
        assert [(c.month, c.claims) for c in context["closed"]] == [(SEPTEMBER, 77)]


def test_the_month_is_the_practices_month(practice, biller_client):
    # 03:30 UTC on November 1 is still October 31 in New York.
    with time_machine.travel(dt.datetime(2026, 11, 1, 3, 30, tzinfo=UTC), tick=False):
        numbers = biller_client.get("/home/").context["dashboard"]["numbers"]
    assert numbers.label == "2026-10"


def test_the_dashboard_reads_no_patient_rows_so_it_audits_nothing(biller_client, scenario):
    from ccm.models import AuditEvent

    before = AuditEvent.objects.unscoped().count()
    _page(biller_client)
    assert AuditEvent.objects.unscoped().count() == before


def _grow(practice, physician, coordinator, start, count):
    """`count` more enrolled patients with time, coordinators and closed months."""
    for n in range(start, start + count):
        patient = make_enrolled(practice, physician, coordinator, mrn=f"G-{n}")
        _time(patient, coordinator, 5 + 4 * n % 30, day=1 + n)
        MembershipFactory(practice=practice, role="coordinator")
        _close(practice, dt.date(2020 + n // 12, n % 12 + 1, 1), claims=n, amount=f"{n}.50")


def test_the_query_count_does_not_grow_with_patients_members_or_months(
    practice, physician, coordinator, biller_client, django_assert_max_num_queries
):
    with practice_scope(practice):
        _grow(practice, physician, coordinator, 0, 2)
    _page(biller_client)  # the first request also saves the session's activity time
    with CaptureQueriesContext(connection) as small:
        _page(biller_client)
    with practice_scope(practice):
        _grow(practice, physician, coordinator, 2, 14)
    with CaptureQueriesContext(connection) as large:
        _page(biller_client)
    assert len(large) == len(small)
    # Six for the request (session, user, membership, MFA, timer, members menu), the census,
    # and the dashboard's six: months, three worklist counts, claims, enrolled, members.
    with django_assert_max_num_queries(13):
        _page(biller_client)


class TestChart:
    def test_the_svg_has_no_script_and_its_style_carries_the_pages_csp_nonce(
        self, practice, biller_client
    ):
        _close(practice, SEPTEMBER, claims=4, amount="210.50")
        response = _page(biller_client)
        svg = str(response.context["dashboard"]["chart"])
        tree = ElementTree.fromstring(svg)  # noqa: S314 (our own output)
        tags = {element.tag.split("}")[-1] for element in tree.iter()}
        assert "script" not in tags
        assert "<script" not in svg
        assert not [e for e in tree.iter() if "style" in e.attrib]  # CSP: no style attributes
        (style,) = [e for e in tree.iter() if e.tag.endswith("}style")]
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        assert style.get("nonce") == nonce
        assert "style-src 'self' 'nonce-" in response["Content-Security-Policy"]
        assert "xml-stylesheet" not in svg
        assert "http" not in style.text
        html = response.content.decode()
        assert svg in html  # inlined as is
        assert tree.get("role") == "img"
        assert tree.get("aria-label")

    def test_at_most_twelve_months_show(self, practice):
        for n in range(14):
            _close(practice, dt.date(2025 + (n + 8) // 12, (n + 8) % 12 + 1, 1), claims=n)
        months = dash.closed_months(practice=practice)
        assert len(months) == 12
        assert months[0].month == dt.date(2025, 11, 1)
        assert months[-1].month == OCTOBER

    def test_no_closed_month_shows_a_sentence_and_no_chart(self, practice, biller_client):
        response = _page(biller_client)
        assert response.context["dashboard"]["chart"] == ""
        assert b"No month has been closed yet." in response.content
        assert b"<svg" not in response.content


# --- The stored claim on MonthProgress -------------------------------------------------------


def _stored(practice, patient, month=OCTOBER):
    return MonthProgress.objects.for_practice(practice).get(patient=patient, month=month)


@pytest.fixture
def ready(practice, physician, coordinator):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99490", amount=FEE_99490
    )
    return _ready(practice, physician, coordinator, "R-1")


@pytest.mark.usefixtures("frozen")
class TestStoredClaim:
    def test_writes_keep_billable_and_the_projected_amount(self, practice, coordinator, ready):
        with practice_scope(practice):
            entry = log_time(
                practice, coordinator, ready, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 19
            )
            row = _stored(practice, ready)
            assert (row.billable, row.projected_amount) == (False, Decimal("0.00"))  # R27
            time_services.time_entry_update(
                practice=practice, actor=coordinator, entry=entry, data={"minutes": 21}
            )
            row = _stored(practice, ready)
            assert (row.billable, row.projected_amount) == (True, FEE_99490)
            consent = ready.consents.get()
            from patients import services as patient_services

            patient_services.consent_revoke(
                practice=practice,
                actor=coordinator,
                consent=consent,
                revoked_on=dt.date(2026, 10, 1),
            )
        # R7: minutes after the revocation day no longer count: no claim.
        row = _stored(practice, ready)
        assert (row.billable, row.projected_amount) == (False, Decimal("0.00"))

    def test_the_full_reconcile_repairs_a_stale_claim_and_warns(self, practice, coordinator, ready):
        _time(ready, coordinator, 25)
        MonthProgress.objects.unscoped().filter(patient=ready).update(
            billable=False, projected_amount=Decimal("0")
        )
        hourly = progress_services.progress_reconcile(
            practice_id=practice.pk, months=[OCTOBER], missing_only=True
        )
        assert (hourly.added, hourly.corrected) == (0, 0)  # a complete row: not its job
        assert _stored(practice, ready).billable is False
        with mock.patch.object(progress_services.logger, "warning") as warning:
            nightly = progress_services.progress_reconcile(
                practice_id=practice.pk, months=[OCTOBER]
            )
        assert (nightly.added, nightly.corrected) == (0, 1)
        warning.assert_called_once()
        row = _stored(practice, ready)
        assert (row.billable, row.projected_amount) == (True, FEE_99490)

    def test_rows_from_before_the_columns_are_filled_by_the_hourly_run_without_a_warning(
        self, practice, coordinator, ready
    ):
        _time(ready, coordinator, 25)
        MonthProgress.objects.unscoped().filter(patient=ready).update(
            billable=None, projected_amount=None
        )
        with mock.patch.object(progress_services.logger, "warning") as warning:
            outcome = progress_services.progress_reconcile(
                practice_id=practice.pk, months=[OCTOBER], missing_only=True
            )
        assert (outcome.checked, outcome.added, outcome.corrected) == (1, 1, 0)
        warning.assert_not_called()
        row = _stored(practice, ready)
        assert (row.billable, row.projected_amount) == (True, FEE_99490)

    def test_a_pending_row_shows_as_pending_not_as_money(self, practice, coordinator, ready):
        _time(ready, coordinator, 25)
        MonthProgress.objects.unscoped().filter(patient=ready).update(
            billable=None, projected_amount=None
        )
        numbers = dash.month_numbers(practice=practice, month=OCTOBER, today=NOW.date())
        assert (numbers.billable, numbers.projected, numbers.pending) == (0, Decimal("0"), 1)

    def test_the_stored_claim_is_the_engines(self, practice, coordinator, ready):
        from billing import rules
        from billing.inputs.loading import load_patient_months, policy

        _time(ready, coordinator, 47)
        _, facts = load_patient_months(practice=practice, patient_ids=[ready.pk], months=[OCTOBER])
        result = rules.evaluate(facts[(ready.pk, OCTOBER)], policy(practice))
        row = _stored(practice, ready)
        assert (row.billable, row.projected_amount) == (result.billable, result.total)
        assert result.total > FEE_99490  # 47 minutes add 99439 (R20)
