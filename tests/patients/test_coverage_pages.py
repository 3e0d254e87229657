"""Coverage on the chart and its add / edit / end pages: who may see and write, refusals
shown on the form with nothing saved, audit, a fixed query count for the chart's section."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ccm.tenancy import practice_scope
from patients import coverage_services as cs
from patients.models import Coverage
from tests.factories import CoverageFactory, PatientFactory
from tests.helpers import assert_form_error, audited, frozen_clock
from tests.patients.conftest import NOW
from tests.patients.coverage_data import payers

_frozen_clock = frozen_clock(NOW, autouse=True)
pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(practice):
    """A patient with Part B primary since 2000 (the factory's)."""
    return PatientFactory(practice=practice, mrn="COV-1", mbi="1EG4TE5MK73")


@pytest.fixture
def by_kind(practice):
    return payers(practice)


def chart(patient):
    return f"/patients/{patient.pk}/"


def new_url(patient):
    return f"/patients/{patient.pk}/coverage/new/"


def edit_url(coverage):
    return f"/patients/{coverage.patient_id}/coverage/{coverage.pk}/edit/"


def end_url(coverage):
    return f"/patients/{coverage.patient_id}/coverage/{coverage.pk}/end/"


def medigap_form(by_kind, **overrides):
    return {
        "kind": "medigap",
        "payer": str(by_kind["medigap"].pk),
        "member_id": "MG-123456",
        "starts_on": "2026-01-01",
        "benefits_assigned": "on",
        **overrides,
    }


def _part_b(patient):
    return Coverage.objects.unscoped().get(patient=patient, kind="part_b")


def test_chart_lists_coverage_with_a_masked_member_id(coordinator_client, patient, by_kind):
    CoverageFactory(
        patient=patient,
        priority="secondary",
        kind="medigap",
        payer=by_kind["medigap"],
        member_id="MG-123456",
        starts_on=dt.date(2026, 1, 1),
    )
    page = coordinator_client.get(chart(patient)).content.decode()
    assert 'id="coverage"' in page
    assert "Medicare Part B" in page
    assert "Medigap (Medicare supplement)" in page
    assert "Mutual of Omaha Medigap" in page
    assert "(71412)" in page
    assert "•••••3456" in page
    assert "MG-123456" not in page
    assert "1EG4TE5MK73" not in page.split('id="coverage"')[1].split("</section>")[0]
    assert "Since 2000-01-01" in page
    assert new_url(patient) in page
    assert edit_url(_part_b(patient)) in page


def test_a_physician_sees_coverage_but_no_write_buttons(physician_client, patient):
    page = physician_client.get(chart(patient)).content.decode()
    assert "Medicare Part B" in page
    assert new_url(patient) not in page
    assert "/coverage/" not in page


def test_chart_without_coverage_says_the_month_will_not_bill(coordinator_client, practice):
    bare = PatientFactory(practice=practice, part_b=False)
    page = coordinator_client.get(chart(bare)).content.decode()
    assert "No coverage recorded" in page


def test_the_chart_costs_the_same_queries_with_more_coverage(coordinator_client, patient, by_kind):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert coordinator_client.get(chart(patient)).status_code == 200
        return len(queries)

    coordinator_client.get(chart(patient))
    before = count()
    _part_b(patient).__class__.objects.unscoped().filter(patient=patient).update(
        ends_on=dt.date(2000, 12, 31)
    )
    for year in range(2001, 2007):
        CoverageFactory(
            patient=patient,
            kind="medicare_advantage",
            payer=by_kind["medicare_advantage"],
            member_id=f"H-{year}",
            starts_on=dt.date(year, 1, 1),
            ends_on=dt.date(year, 12, 31),
        )
    assert count() == before


def test_adding_coverage(coordinator_client, coordinator, patient, by_kind):
    page = coordinator_client.get(new_url(patient))
    assert page.status_code == 200
    assert "Mutual of Omaha Medigap (71412)" in page.content.decode()
    response = coordinator_client.post(new_url(patient), medigap_form(by_kind))
    assert response.status_code == 302
    assert response["Location"] == chart(patient)
    added = Coverage.objects.unscoped().get(patient=patient, kind="medigap")
    assert (added.priority, added.member_id, added.created_by) == (
        "secondary",
        "MG-123456",
        coordinator,
    )
    assert audited("coverage.create", patient_id=patient.pk, object_id=str(added.pk))
    assert audited("patient.read", patient_id=patient.pk)  # the form named the patient


def test_bad_input_is_shown_on_the_form_and_nothing_saved(biller_client, patient, by_kind):
    response = biller_client.post(new_url(patient), medigap_form(by_kind, payer="", member_id=""))
    assert_form_error(response, cs.PAYER_REQUIRED_MESSAGE)
    assert_form_error(response, cs.MEMBER_ID_REQUIRED_MESSAGE)
    overlap = biller_client.post(new_url(patient), {"kind": "part_b", "starts_on": "2026-01-01"})
    assert_form_error(overlap, "overlap the patient's primary Medicare Part B coverage")
    assert Coverage.objects.unscoped().filter(patient=patient).count() == 1


def test_a_physician_may_not_open_or_post_the_coverage_pages(physician_client, patient, by_kind):
    assert physician_client.get(new_url(patient)).status_code == 403
    assert physician_client.post(new_url(patient), medigap_form(by_kind)).status_code == 403
    coverage = _part_b(patient)
    assert physician_client.post(end_url(coverage), {"confirm": "yes"}).status_code == 403
    assert Coverage.objects.unscoped().filter(patient=patient).count() == 1


def test_the_outsider_gets_404_everywhere(outsider_client, patient, by_kind):
    coverage = _part_b(patient)
    for url in (new_url(patient), edit_url(coverage), end_url(coverage)):
        assert outsider_client.get(url).status_code == 404
        assert (
            outsider_client.post(url, {"confirm": "yes", "ends_on": "2026-11-30"}).status_code
            == 404
        )
    assert Coverage.objects.unscoped().get(pk=coverage.pk).ends_on is None


def test_a_coverage_of_another_patient_is_404(admin_client, practice, patient):
    other = PatientFactory(practice=practice)
    coverage = _part_b(other)
    wrong = f"/patients/{patient.pk}/coverage/{coverage.pk}/edit/"
    assert admin_client.get(wrong).status_code == 404


def test_editing_coverage(admin_client, patient):
    coverage = _part_b(patient)
    page = admin_client.get(edit_url(coverage))
    assert page.status_code == 200
    assert audited("coverage.read", object_id=str(coverage.pk))
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v not in (None, False)}
    data |= {"group_number": "GRP-9", "starts_on": "2000-01-01", "benefits_assigned": "on"}
    response = admin_client.post(edit_url(coverage), data)
    assert response.status_code == 302
    assert Coverage.objects.unscoped().get(pk=coverage.pk).group_number == "GRP-9"
    assert audited("coverage.update", changed_fields=["group_number"])
    stale = admin_client.post(edit_url(coverage), {**data, "group_number": "GRP-10"})
    assert stale.status_code == 400  # opened before the change above: refused
    assert Coverage.objects.unscoped().get(pk=coverage.pk).group_number == "GRP-9"


def test_ending_coverage_asks_first(coordinator_client, patient):
    coverage = _part_b(patient)
    page = coordinator_client.get(end_url(coverage))
    assert page.status_code == 200
    assert "End coverage" in page.content.decode()
    coordinator_client.post(end_url(coverage), {"ends_on": "2026-11-30"})  # no confirmation
    assert Coverage.objects.unscoped().get(pk=coverage.pk).ends_on is None
    bad = coordinator_client.post(end_url(coverage), {"confirm": "yes", "ends_on": "1999-01-01"})
    assert_form_error(bad, cs.DATES_MESSAGE)
    done = coordinator_client.post(end_url(coverage), {"confirm": "yes", "ends_on": "2026-11-30"})
    assert done.status_code == 302
    assert Coverage.objects.unscoped().get(pk=coverage.pk).ends_on == dt.date(2026, 11, 30)
    assert audited("coverage.end", object_id=str(coverage.pk))


def test_an_ended_coverage_shows_as_ended_without_an_end_button(
    coordinator_client, practice, coordinator, patient
):
    coverage = _part_b(patient)
    with practice_scope(practice):
        cs.coverage_end(
            practice=practice, actor=coordinator, coverage=coverage, ends_on=dt.date(2020, 1, 31)
        )
    page = coordinator_client.get(chart(patient)).content.decode()
    assert "Ended" in page
    assert end_url(coverage) not in page
