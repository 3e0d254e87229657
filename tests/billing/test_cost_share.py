"""The consent page's CCM cost share (patients.hooks.cost_share, registered by billing): 20%
of the practice's amount for the code the patient usually reaches, $0 when a secondary
coverage pays the coinsurance (and why), the plan's cost sharing for Medicare Advantage, the
primary insurer first for MSP, and nothing before coverage is recorded."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils.html import escape

from billing.fees.cost_share import cost_share_estimate, usual_code
from billing.models import Claim, ClaimLine, ClaimStatus, CloseStatus, FeeSchedule, MonthClose
from ccm.months import previous_month
from patients.models import Coverage
from tests.factories import CoverageFactory, PatientFactory, PayerFactory

NOVEMBER = dt.date(2026, 11, 1)
NOW = dt.datetime(2026, 11, 10, 15, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice)


def _estimate(practice, patient):
    return cost_share_estimate(practice=practice, patient=patient, month=NOVEMBER)


def _secondary(patient, kind, **extra):
    return CoverageFactory(patient=patient, priority="secondary", kind=kind, **extra)


def test_part_b_alone_owes_20_percent_of_the_practice_amount(practice, patient):
    share = _estimate(practice, patient)
    assert (share.code, share.amount, share.estimate) == (
        "99490",
        Decimal("66.13"),
        Decimal("13.23"),
    )
    assert share.headline == "The 20% Part B coinsurance on the practice's $66.13 for 99490."
    assert any("Part B deductible applies" in why for why in share.why)
    assert any("No CCM claims in the last 6 closed months" in why for why in share.why)


def test_the_practices_own_amount_is_used(practice, patient):
    FeeSchedule.objects.for_practice(practice).create(
        practice=practice, code="99490", amount=Decimal("80.00")
    )
    assert _estimate(practice, patient).estimate == Decimal("16.00")


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("qmb", "As a Qualified Medicare Beneficiary the patient owes no Medicare deductible"),
        ("medicaid", "Medicaid pays the Medicare deductible and coinsurance"),
        ("medigap", "Medigap (Medicare supplement) plans pay the Part B coinsurance."),
    ],
)
def test_a_secondary_that_pays_the_coinsurance_makes_it_zero(practice, patient, kind, why):
    _secondary(
        patient, kind, payer=PayerFactory(practice=practice, name="State plan", kind="medicaid")
    )
    share = _estimate(practice, patient)
    assert share.estimate == Decimal("0.00")
    assert share.headline == "Nothing to pay: State plan pays the 20% coinsurance."
    assert share.why[0].startswith(why)
    medigap_note = any("Medigap plans do not pay the Part B deductible" in w for w in share.why)
    assert medigap_note is (kind == "medigap")


def test_other_secondary_insurance_may_pay_some(practice, patient):
    _secondary(patient, "other_secondary", plan_name="Union retiree plan")
    share = _estimate(practice, patient)
    assert share.estimate == Decimal("13.23")
    assert "Union retiree plan (secondary) may pay some or all of the coinsurance." in share.why


def test_medicare_advantage_shows_20_percent_as_an_estimate(practice, patient):
    Coverage.objects.unscoped().filter(patient=patient).delete()
    plan = PayerFactory(practice=practice, name="Sunrise Advantage")
    CoverageFactory(patient=patient, kind="medicare_advantage", payer=plan)
    share = _estimate(practice, patient)
    assert share.estimate == Decimal("13.23")
    assert "plan's own cost sharing applies and may differ" in share.headline
    assert share.why[0].startswith("Sunrise Advantage sets its own copay or coinsurance")


def test_msp_says_the_primary_insurer_pays_first(practice, patient):
    Coverage.objects.unscoped().filter(patient=patient).delete()
    employer = PayerFactory(practice=practice, name="Acme employer plan", kind="commercial")
    CoverageFactory(patient=patient, kind="other_primary", payer=employer, msp_type="12")
    share = _estimate(practice, patient)
    assert share.estimate == Decimal("13.23")
    assert "the primary insurer pays first" in share.headline
    assert share.why[0].startswith("Acme employer plan is the primary insurer")


@pytest.mark.parametrize("ended", [None, dt.date(2026, 10, 31)])
def test_without_coverage_in_force_it_must_be_recorded_first(practice, patient, ended):
    if ended is None:
        Coverage.objects.unscoped().filter(patient=patient).delete()
    else:
        Coverage.objects.unscoped().filter(patient=patient).update(ends_on=ended)
    share = _estimate(practice, patient)
    assert share.estimate is None
    assert share.headline.startswith("Record the patient's Medicare coverage first")
    assert share.why == ("No Medicare coverage is recorded for November 2026.",)


# --- The code the patient usually reaches ---------------------------------------------------


def _claimed(practice, patient, physician, month, code, *, status=ClaimStatus.PAID):
    close, _ = MonthClose.objects.for_practice(practice).get_or_create(
        practice=practice, month=month, defaults={"status": CloseStatus.CLOSED}
    )
    claim = Claim.objects.for_practice(practice).create(
        practice=practice,
        close=close,
        patient=patient,
        month=month,
        billing_practitioner=physician,
        date_of_service=month,
        place_of_service="11",
        amount=Decimal("1.00"),
        status=status,
    )
    ClaimLine.objects.for_practice(practice).create(
        practice=practice, claim=claim, position=0, code=code, units=1, minutes=30,
        charge=Decimal("1.00"), explanation="R19",
    )  # fmt: skip
    return claim


def _months_back(count):
    month, out = NOVEMBER, []
    for _ in range(count):
        month = previous_month(month)
        out.append(month)
    return out  # October first


def test_the_most_frequent_base_code_of_the_last_six_closed_months(practice, patient, physician):
    october, september, august = _months_back(3)
    _claimed(practice, patient, physician, october, "99491")
    _claimed(practice, patient, physician, september, "99491")
    _claimed(practice, patient, physician, august, "99490")
    assert usual_code(practice=practice, patient=patient) == ("99491", 2)
    share = _estimate(practice, patient)
    assert (share.code, share.estimate) == ("99491", Decimal("16.43"))  # 20% of $82.16
    assert "99491 is the code the patient usually reaches (2 of their claims" in share.why[1]


def test_older_months_and_withdrawn_claims_do_not_count(practice, patient, physician):
    months = _months_back(7)
    other = PatientFactory(practice=practice)
    for month in months[:6]:  # six closed months since, without this patient's claims
        _claimed(practice, other, physician, month, "99490")
    _claimed(practice, patient, physician, months[6], "99487")  # the seventh month back
    _claimed(practice, patient, physician, months[0], "99487", status=ClaimStatus.WITHDRAWN)
    assert usual_code(practice=practice, patient=patient) == ("99490", 0)


# --- The consent page -----------------------------------------------------------------------


def test_the_consent_page_shows_the_cost_share(coordinator_client, practice, patient):
    _secondary(patient, "qmb")
    page = coordinator_client.get(f"/patients/{patient.pk}/consent/").content.decode()
    assert 'id="cost-share"' in page
    assert "$0.00 a month" in page
    assert escape("As a Qualified Medicare Beneficiary") in page
    assert "An estimate to explain, not a bill." in page


def test_the_consent_page_asks_for_coverage_first(coordinator_client, practice):
    uncovered = PatientFactory(practice=practice, part_b=False)
    page = coordinator_client.get(f"/patients/{uncovered.pk}/consent/").content.decode()
    assert "not known yet" in page
    assert escape("Record the patient's Medicare coverage first") in page


def test_the_consent_page_reads_a_fixed_number_of_queries(
    coordinator_client, practice, patient, physician, django_assert_max_num_queries
):
    url = f"/patients/{patient.pk}/consent/"
    with django_assert_max_num_queries(40) as few:
        coordinator_client.get(url)
    for month in _months_back(6):
        _claimed(practice, patient, physician, month, "99491")
    _secondary(patient, "medigap", payer=PayerFactory(practice=practice, kind="medigap"))
    with django_assert_max_num_queries(len(few)):
        assert "99491" in coordinator_client.get(url).content.decode()
