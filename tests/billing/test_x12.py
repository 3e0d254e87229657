"""The 837P export: envelope counts and control numbers, submitter and receiver from the
billing setup, the HL tree, HI and SV1 content, sanitised text, payers and the other-payer
loops (MA, MSP, secondary coverage), corrected and void claims, organisation and individual
billing providers, the contractor front-end rules, pyx12 accepting a closed month, the demo's
last month and 10,000 claims, and pyx12 refusing a corrupted file."""

import dataclasses
import datetime as dt
import os
import time
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from billing.exports import x12
from billing.models import BillingSetup, Claim, ClaimLine, MonthClose, Outcome, UsualCharge
from billing.setup import rules as setup_rules
from ccm.models import Practice, Role
from patients.models import Patient
from tests.billing.conftest import make_billing_setup
from tests.billing.test_month_close import OCTOBER, _cast, _close
from tests.factories import MembershipFactory

CREATED = dt.datetime(2026, 11, 3, 15, 30, tzinfo=dt.UTC)
STREET = x12.Address(
    line1="100 Main Street", city="Springfield", state="NY", postal_code="12345-6789"
)
PROVIDER = x12.BillingProvider(
    name="Sunrise Clinic",
    npi="1234567893",
    tax_id="12-3456789",
    address=STREET,
)
SUBMITTER = x12.Submitter(
    id="SUB0001", name="Sunrise Clinic", contact_name="Billing Office", phone="(555) 010-0100"
)
RECEIVER = x12.Receiver(id="01112", name="Noridian JE Part B")
MAC = x12.Payer(name="Noridian JE Part B", payer_id="01112", filing_indicator="MB")


def _claim(n=0, *, lines=None, codes=("E11.9", "I10"), last="Lovelace", first="Ada", **more):
    patient = x12.Subscriber(
        member_id="1EG4TE5MK73",
        last_name=last,
        first_name=first,
        date_of_birth=dt.date(1950, 1, 2),
        sex="F",
        address=STREET,
    )
    values = {
        "patient_control_number": f"{n:020x}",
        "subscriber": patient,
        "rendering_provider": x12.RenderingProvider(
            last_name="Physician", first_name="Pat", npi="1679576722"
        ),
        "date_of_service": dt.date(2026, 10, 31),
        "place_of_service": "11",
        "diagnosis_codes": codes,
        "lines": lines or (x12.ServiceLine(code="99490", charge=Decimal("62.00"), units=1),),
        "payer": MAC,
    }
    return x12.ClaimData(**{**values, **more})


def _submission(*claims, **fields):
    values = {"submitter": SUBMITTER, "receiver": RECEIVER, "billing_provider": PROVIDER}
    return x12.Submission(claims=claims, **{**values, **fields})


def _build(*claims, control_number=42, **fields):
    submission = _submission(*claims, **fields)
    return x12.build_837(submission, control_number=control_number, created_at=CREATED)


def _segments(document):
    assert document.endswith("~")
    return [segment.split("*") for segment in document[:-1].split("~")]


def _all(document, segment_id):
    return [s for s in _segments(document) if s[0] == segment_id]


def test_envelope_counts_and_control_numbers_match():
    document = _build(_claim(1), _claim(2), _claim(3), control_number=42)
    segments = _segments(document)
    isa, gs, st = segments[0], segments[1], segments[2]
    se, ge, iea = segments[-3], segments[-2], segments[-1]
    assert len(document.split("~")[0]) + 1 == 106  # the fixed-length ISA, terminator included
    assert isa[13] == iea[2] == "000000042"
    assert isa[11:13] == ["^", "00501"]
    assert isa[16] == ":"
    assert gs[6] == ge[2] == "42"
    assert gs[1] == "HC"
    assert gs[8] == st[3] == "005010X222A1"
    assert st[1] == "837"
    assert st[2] == se[2]
    assert int(se[1]) == len(segments) - 4  # ST through SE, without ISA, GS, GE, IEA
    assert ge[1] == iea[1] == "1"
    bht = segments[3]
    assert bht[:3] == ["BHT", "0019", "00"]
    assert bht[4:] == ["20261103", "1530", "CH"]


def test_the_control_number_must_fit_nine_digits():
    with pytest.raises(ValueError, match="control number"):
        _build(_claim(), control_number=10**9)
    with pytest.raises(ValueError, match="control number"):
        _build(_claim(), control_number=0)


def test_subscribers_hang_under_the_one_billing_provider():
    hls = _all(_build(_claim(1), _claim(2), _claim(3)), "HL")
    assert hls[0] == ["HL", "1", "", "20", "1"]
    assert hls[1:] == [["HL", str(n), "1", "22", "0"] for n in (2, 3, 4)]


def test_a_claim_with_99490_and_two_99439_units():
    lines = (
        x12.ServiceLine(code="99490", charge=Decimal("62.00"), units=1),
        x12.ServiceLine(code="99439", charge=Decimal("95.50"), units=2),
    )
    document = _build(_claim(7, lines=lines, codes=("E11.9", "I10", "E78.5")))
    assert _all(document, "SBR") == [["SBR", "P", "18", "", "", "", "", "", "", "MB"]]
    assert _all(document, "HI") == [["HI", "ABK:E119", "ABF:I10", "ABF:E785"]]
    clm = _all(document, "CLM")[0]
    assert clm[1] == f"{7:020x}"
    assert clm[2] == "157.5"  # the lines' total
    assert clm[5] == "11:B:1"  # POS 11, professional, original claim
    assert _all(document, "LX") == [["LX", "1"], ["LX", "2"]]
    assert _all(document, "SV1") == [
        ["SV1", "HC:99490", "62", "UN", "1", "", "", "1:2:3"],
        ["SV1", "HC:99439", "95.5", "UN", "2", "", "", "1:2:3"],
    ]
    assert _all(document, "DTP") == [["DTP", "472", "D8", "20261031"]] * 2
    names = {s[1]: s for s in _all(document, "NM1")}
    assert names["IL"][3:5] == ["LOVELACE", "ADA"]
    assert names["IL"][8:] == ["MI", "1EG4TE5MK73"]
    assert names["82"][3:5] == ["PHYSICIAN", "PAT"]
    assert names["82"][8:] == ["XX", "1679576722"]
    assert names["85"][8:] == ["XX", "1234567893"]
    assert names["PR"][3] == "NORIDIAN JE PART B"
    assert names["PR"][8:] == ["PI", "01112"]


def test_lines_point_at_most_at_four_diagnoses():
    codes = ("E11.9", "I10", "E78.5", "N18.30", "J44.9")
    document = _build(_claim(codes=codes))
    assert _all(document, "HI")[0][1:] == [
        "ABK:E119",
        "ABF:I10",
        "ABF:E785",
        "ABF:N1830",
        "ABF:J449",
    ]
    assert _all(document, "SV1")[0][7] == "1:2:3:4"


def test_text_is_upper_case_without_delimiters_or_foreign_characters():
    document = _build(_claim(last="O'Brien*~Núñez:^", first="  José\tMaría  "))
    name = next(s for s in _all(document, "NM1") if s[1] == "IL")
    assert name[3:5] == ["O'BRIENNUNEZ", "JOSE MARIA"]
    assert x12.text("Zoë & Co. <ltd> {x} ü") == "ZOE & CO. LTD X U"
    assert document.isascii()
    # A delimiter left in a name would have split it into more elements above.
    assert all(len(s) == 17 for s in _segments(document) if s[0] == "ISA")


def test_practitioner_names_lose_titles_and_credentials():
    assert x12.split_name("Dr. Pat Q. Physician, MD") == ("Physician", "Pat")
    assert x12.split_name("Omar Other MD") == ("Other", "Omar")
    assert x12.split_name("Prince") == ("Prince", "")
    assert x12.split_name("") == ("", "")


def test_pyx12_accepts_the_built_claim():
    lines = (
        x12.ServiceLine(code="99490", charge=Decimal("62.00"), units=1),
        x12.ServiceLine(code="99439", charge=Decimal("95.50"), units=2),
    )
    assert x12.validate_837(_build(_claim(1, lines=lines), _claim(2))) == []


def test_pyx12_reports_a_wrong_segment_count():
    document = _build(_claim(1))
    se = _all(document, "SE")[0]
    broken = document.replace(f"SE*{se[1]}*", f"SE*{int(se[1]) + 1}*")
    errors = x12.validate_837(broken)
    assert any("SE count" in e for e in errors)


def test_pyx12_reports_a_missing_billing_provider_without_showing_data():
    document = _build(_claim(1, last="Lovelace", first="Ada"))
    name = next("*".join(s) + "~" for s in _segments(document) if s[:2] == ["NM1", "85"])
    errors = x12.validate_837(document.replace(name, ""))
    assert any("2010AA" in e for e in errors)
    # The loop's N3 is then out of place; its street address is not repeated.
    assert not any("MAIN STREET" in e for e in errors)


def test_pyx12_reports_a_too_long_name_without_the_name():
    errors = x12.validate_837(_build(_claim(1, last="Lovelace" * 10)))
    assert any("NM103" in e and "too long" in e for e in errors)
    assert not any("LOVELACE" in e for e in errors)


def test_pyx12_rejects_what_is_not_an_interchange():
    assert x12.validate_837("hello") != []
    assert x12.validate_837(_build(_claim()).replace("005010X222A1", "005010X999")) != []


def test_validation_is_quiet(capsys, caplog, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    document = _build(_claim(1))
    x12.validate_837(document.replace("GE*1*42", "GE*1*43"))
    x12.validate_837(document)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
    assert caplog.records == []
    assert os.listdir(tmp_path) == []


def test_pyx12_accepts_10000_claims_in_one_transaction_set():
    lines = (
        x12.ServiceLine(code="99490", charge=Decimal("62.00"), units=1),
        x12.ServiceLine(code="99439", charge=Decimal("95.50"), units=2),
    )
    claims = tuple(_claim(n, lines=lines if n % 2 else None) for n in range(10_000))
    # CPU time of this process: the work of building, not also the time a busy machine's
    # scheduler kept it waiting (wall-clock time depends on the load of other processes).
    started = time.process_time()
    document = _build(*claims, control_number=999_999_999)
    built = time.process_time() - started
    assert built < 5
    assert document.count("~CLM*") == 10_000
    assert _all(document, "HL")[-1][1] == "10001"
    assert x12.validate_837(document) == []  # about 20 s on a shared 2-core machine


# --- submitter, receiver, billing provider, payers, frequencies ----------------------------

AETNA = x12.Payer(name="Aetna", payer_id="60054", filing_indicator="CI")
MEDICAID = x12.Payer(name="NY Medicaid", payer_id="MCDNY", filing_indicator="MC")
HUMANA_MA = x12.Payer(name="Humana Gold Plus", payer_id="61101", filing_indicator="16")


def _loop_2320(document):
    """The segments from each claim's first 2320 SBR to its first LX."""
    segments = _segments(document)
    clm = next(i for i, s in enumerate(segments) if s[0] == "CLM")
    rest = segments[clm:]
    end = next(i for i, s in enumerate(rest) if s[0] == "LX")
    body = rest[:end]
    start = next((i for i, s in enumerate(body) if s[0] == "SBR"), len(body))
    return body[start:]


def test_submitter_and_receiver_are_the_setups_ids_not_the_npi():
    submitter = x12.Submitter(
        id="A12345", name="Sunrise", contact_name="Jo Biller", phone="555-010-0100", qualifier="27"
    )
    receiver = x12.Receiver(id="04412", name="Novitas", qualifier="28")
    document = _build(_claim(1), submitter=submitter, receiver=receiver, usage="T")
    isa, gs = _segments(document)[:2]
    assert isa[5:9] == ["27", "A12345".ljust(15), "28", "04412".ljust(15)]
    assert isa[15] == "T"
    assert gs[2:4] == ["A12345", "04412"]
    names = {s[1]: s for s in _all(document, "NM1")}
    assert names["41"][3] == "SUNRISE"
    assert names["41"][8:] == ["46", "A12345"]  # 1000A: the submitter id, not the NPI
    assert names["40"][3] == "NOVITAS"
    assert names["40"][8:] == ["46", "04412"]
    assert _all(document, "PER") == [["PER", "IC", "JO BILLER", "TE", "5550100100"]]
    assert "1234567893" not in isa + gs
    assert x12.validate_837(document) == []


def test_the_billing_provider_address_has_zip_plus_4_and_a_pay_to_address():
    pay_to = x12.Address(line1="PO Box 4410", city="Springfield", state="NY", postal_code="12345")
    provider = x12.BillingProvider(
        name="Sunrise Clinic", npi="1234567893", tax_id="12-3456789", address=STREET, pay_to=pay_to
    )
    document = _build(_claim(1), billing_provider=provider)
    segments = _segments(document)
    billing = next(i for i, s in enumerate(segments) if s[:2] == ["NM1", "85"])
    assert segments[billing + 1] == ["N3", "100 MAIN STREET"]
    assert segments[billing + 2] == ["N4", "SPRINGFIELD", "NY", "123456789"]  # ZIP+4
    assert segments[billing + 3] == ["REF", "EI", "123456789"]
    assert segments[billing + 4 : billing + 7] == [
        ["NM1", "87", "2"],  # 2010AB pay-to address
        ["N3", "PO BOX 4410"],
        ["N4", "SPRINGFIELD", "NY", "12345"],
    ]
    assert x12.validate_837(document) == []


def test_an_individual_billing_provider_is_a_person_and_not_repeated_as_rendering():
    provider = x12.BillingProvider(
        name="Physician", first_name="Pat", npi="1679576722", tax_id="12-3456789",
        address=STREET, person=True,
    )  # fmt: skip
    document = _build(_claim(1), billing_provider=provider)
    names = {s[1]: s for s in _all(document, "NM1")}
    assert names["85"][2:5] == ["1", "PHYSICIAN", "PAT"]
    assert names["85"][8:] == ["XX", "1679576722"]
    assert "82" not in names  # 2310B only when the rendering provider differs
    assert x12.validate_837(document) == []
    organisation = _build(_claim(1))
    assert {s[1]: s for s in _all(organisation, "NM1")}["85"][2:4] == ["2", "SUNRISE CLINIC"]


def test_assignment_and_benefits_follow_the_setup_and_the_coverage():
    document = _build(_claim(1, benefits_assigned=False), accepts_assignment=False)
    clm = _all(document, "CLM")[0]
    assert clm[6:10] == ["Y", "C", "N", "Y"]  # CLM07 not assigned, CLM08 no AOB on file
    assert _all(_build(_claim(1)), "CLM")[0][6:10] == ["Y", "A", "Y", "Y"]
    assert x12.validate_837(document) == []


def test_a_medicare_advantage_claim_goes_to_the_plan():
    patient = x12.Subscriber(
        member_id="H1234-5678", last_name="Lovelace", first_name="Ada",
        date_of_birth=dt.date(1950, 1, 2), sex="F", address=STREET,
    )  # fmt: skip
    document = _build(_claim(1, subscriber=patient, payer=HUMANA_MA, group_number="GRP-9"))
    assert _all(document, "SBR") == [["SBR", "P", "18", "GRP-9", "", "", "", "", "", "16"]]
    names = {s[1]: s for s in _all(document, "NM1")}
    assert names["PR"][3] == "HUMANA GOLD PLUS"
    assert names["PR"][8:] == ["PI", "61101"]
    assert names["IL"][8:] == ["MI", "H12345678"]
    assert _loop_2320(document) == []
    assert x12.validate_837(document) == []


def test_a_medicare_secondary_payer_claim_names_the_primary_insurer_in_2320():
    primary = x12.OtherPayer(payer=AETNA, responsibility="P", member_id="W123456789")
    claim = _claim(1, responsibility="S", msp_type="12", other_payers=(primary,))
    document = _build(claim)
    assert _all(document, "SBR")[0] == ["SBR", "S", "18", "", "", "12", "", "", "", "MB"]
    assert _loop_2320(document) == [
        ["SBR", "P", "18", "", "", "", "", "", "", "CI"],
        ["OI", "", "", "Y", "", "", "Y"],
        ["NM1", "IL", "1", "LOVELACE", "ADA", "", "", "", "MI", "W123456789"],
        ["NM1", "PR", "2", "AETNA", "", "", "", "", "PI", "60054"],
    ]
    assert x12.validate_837(document) == []
    # pyx12 checks the loop: without its required OI segment the file is refused.
    assert x12.validate_837(document.replace("OI***Y***Y~", "")) != []
    paid = x12.OtherPayer(
        payer=AETNA, responsibility="P", member_id="W123456789", paid_amount=Decimal("40.00")
    )
    known = _build(_claim(1, responsibility="S", msp_type="12", other_payers=(paid,)))
    assert ["AMT", "D", "40"] in _loop_2320(known)  # only when the primary's payment is known
    assert x12.validate_837(known) == []


def test_a_secondary_medicaid_or_medigap_coverage_is_a_2320_loop():
    medicaid = x12.OtherPayer(payer=MEDICAID, responsibility="S", member_id="AB12345C")
    document = _build(_claim(1, other_payers=(medicaid,)))
    assert _all(document, "SBR")[0][1] == "P"
    loop = _loop_2320(document)
    assert loop[0] == ["SBR", "S", "18", "", "", "", "", "", "", "MC"]
    assert loop[-1] == ["NM1", "PR", "2", "NY MEDICAID", "", "", "", "", "PI", "MCDNY"]
    assert x12.validate_837(document) == []
    # Behind an MSP claim the secondary coverage is tertiary.
    primary = x12.OtherPayer(payer=AETNA, responsibility="P", member_id="W1")
    medigap = x12.OtherPayer(
        payer=AETNA, responsibility="T", member_id="G7", benefits_assigned=False
    )
    both = _build(_claim(2, responsibility="S", msp_type="43", other_payers=(primary, medigap)))
    assert [s[1] for s in _loop_2320(both) if s[0] == "SBR"] == ["P", "T"]
    assert ["OI", "", "", "N", "", "", "Y"] in _loop_2320(both)
    assert x12.validate_837(both) == []


@pytest.mark.parametrize(("frequency", "kind"), [("7", "replacement"), ("8", "void")])
def test_corrected_and_void_claims_carry_the_payers_claim_number(frequency, kind):
    document = _build(_claim(1, frequency=frequency, payer_claim_number="2226-0123-4567-8"))
    segments = _segments(document)
    clm = next(i for i, s in enumerate(segments) if s[0] == "CLM")
    assert segments[clm][5] == f"11:B:{frequency}"
    assert segments[clm + 1] == ["REF", "F8", "2226-0123-4567-8"]  # before HI, as 2300 orders it
    assert segments[clm + 2][0] == "HI"
    assert x12.validate_837(document) == []
    assert not _all(_build(_claim(1)), "REF")[1:]  # an original has only the tax id's REF


def test_claims_to_different_payers_share_one_transaction_set():
    medicaid = x12.OtherPayer(payer=MEDICAID, responsibility="S", member_id="AB12345C")
    claims = (_claim(1), _claim(2, payer=HUMANA_MA), _claim(3, other_payers=(medicaid,)))
    document = _build(*claims)
    assert len(_all(document, "ST")) == 1
    payers = [s[3] for s in _all(document, "NM1") if s[1] == "PR"]
    assert payers == ["NORIDIAN JE PART B", "HUMANA GOLD PLUS", "NORIDIAN JE PART B", "NY MEDICAID"]
    assert x12.validate_837(document) == []


# --- the contractor front-end rules ---------------------------------------------------------


def test_a_valid_submission_meets_the_front_end_rules():
    assert x12.front_end_problems(_submission(_claim(1))) == []


def _provider_at(**address):
    return {
        "billing_provider": dataclasses.replace(
            PROVIDER, address=dataclasses.replace(STREET, **address)
        )
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_provider_at(postal_code="12345"), setup_rules.ZIP4_MESSAGE),
        (_provider_at(line1="P.O. Box 12"), setup_rules.PO_BOX_MESSAGE),
        (
            {"submitter": dataclasses.replace(SUBMITTER, id="1234567893")},
            setup_rules.SUBMITTER_MESSAGE,
        ),
        ({"receiver": dataclasses.replace(RECEIVER, id="")}, setup_rules.RECEIVER_MESSAGE),
    ],
)
def test_the_front_end_rules_refuse_what_a_contractor_rejects(change, message):
    assert x12.front_end_problems(_submission(_claim(1), **change)) == [message]


def test_claims_missing_payer_data_are_named_without_patient_data():
    patient = x12.Subscriber(
        member_id="", last_name="Lovelace", first_name="Ada",
        date_of_birth=dt.date(1950, 1, 2), sex="F", address=STREET,
    )  # fmt: skip
    no_msp_type = _claim(2, responsibility="S", other_payers=())
    unnumbered = _claim(4, frequency="8", payer_claim_number="~*")
    no_id = _claim(
        3, other_payers=(x12.OtherPayer(payer=MEDICAID, responsibility="S", member_id=""),)
    )
    problems = x12.front_end_problems(
        _submission(_claim(1, subscriber=patient), no_msp_type, no_id, unnumbered)
    )
    assert len(problems) == 1
    assert problems[0].startswith("4 claim(s) lack")
    for name in (
        "MBI / member id", "Medicare secondary payer type", "other insurance member id",
        "primary insurer of a Medicare secondary payer claim", "payer claim control number",
    ):  # fmt: skip
        assert name in problems[0]
    assert "LOVELACE" not in problems[0].upper()


# --- a closed month from the database ------------------------------------------------------


def _complete_demographics(practice):
    Practice.objects.filter(pk=practice.pk).update(
        tax_id="12-3456789",
        phone="(555) 010-0100",
        address_line1="1 Sunrise Way",
        city="Albany",
        state="NY",
        postal_code="12207",
    )
    Patient.objects.for_practice(practice).update(
        address_line1="5 Elm Street", city="Albany", state="NY", postal_code="12208-1234"
    )
    practice.refresh_from_db()


@pytest.fixture
def closed(practice, physician, coordinator):
    physician.user.full_name = "Dr. Pat Physician"
    physician.user.save(update_fields=["full_name"])
    _cast(practice, physician, coordinator, count=6)
    _complete_demographics(practice)
    _close(practice)
    make_billing_setup(practice)
    return practice


def test_a_closed_month_exports_a_valid_837(closed):
    document = x12.month_837(closed, OCTOBER, control_number=7, created_at=CREATED)
    assert x12.validate_837(document) == []
    claims = Claim.objects.for_practice(closed).filter(month=OCTOBER)
    assert claims.count() == 3
    assert {s[1] for s in _all(document, "CLM")} == {c.pk.hex[:20].upper() for c in claims}
    assert {s[3] for s in _all(document, "NM1") if s[1] == "82"} == {"PHYSICIAN"}
    assert _all(document, "HI")[0][1:] == ["ABK:E119", "ABF:I10"]
    assert _all(document, "DTP")[0][3] == "20261031"  # R32: the month's last day
    assert _segments(document)[0][13] == "000000007"


def test_the_export_reads_a_fixed_number_of_queries(closed, django_assert_num_queries):
    # The close; the ready claims and their live batch entries; the setup; the usual charges
    # (fee schedule and usual charge rows); the claims with patients and coverage; the lines.
    with django_assert_num_queries(8):
        x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)


def test_ids_and_charges_come_from_the_practices_billing_setup(closed):
    make_billing_setup(
        closed, submitter_id="A77001", submitter_qualifier="27", receiver_id="12202",
        receiver_qualifier="28", usage="T", accepts_assignment=False,
    )  # fmt: skip
    UsualCharge.objects.for_practice(closed).create(practice=closed, code="99490", amount="80.00")
    document = x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)
    isa, gs = _segments(document)[:2]
    assert isa[5:9] == ["27", "A77001".ljust(15), "28", "12202".ljust(15)]
    assert (isa[15], gs[2], gs[3]) == ("T", "A77001", "12202")
    assert next(s for s in _all(document, "NM1") if s[1] == "PR")[8:] == ["PI", "01112"]
    assert {s[2] for s in _all(document, "SV1")} == {"80"}  # the usual charge, not the fee
    assert {(s[2], s[7]) for s in _all(document, "CLM")} == {("80", "C")}
    assert x12.validate_837(document) == []


def test_without_billing_setup_no_837_is_made(closed):
    BillingSetup.objects.for_practice(closed).delete()
    with pytest.raises(ValidationError, match="no billing setup"):
        x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)


def test_part_b_claims_need_the_medicare_contractor_of_the_setup(closed):
    BillingSetup.objects.for_practice(closed).update(medicare_payer=None)
    with pytest.raises(ValidationError, match=r"3 claim\(s\) go to Medicare Part B"):
        x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)


def test_an_open_month_is_refused(practice, physician, coordinator):
    _cast(practice, physician, coordinator, count=2)
    _complete_demographics(practice)
    with pytest.raises(ValidationError, match="2026-10 is not closed"):
        x12.month_837(practice, OCTOBER, control_number=1, created_at=CREATED)


def test_missing_demographics_are_named_without_patient_data(closed):
    patient = Patient.objects.for_practice(closed).first()
    Patient.objects.for_practice(closed).update(address_line1="", mbi="")
    with pytest.raises(ValidationError) as raised:
        x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)
    message = " ".join(raised.value.messages)
    assert "3 claim(s)" in message
    assert "MBI" in message
    assert "patient address" in message
    assert patient.last_name not in message
    Practice.objects.filter(pk=closed.pk).update(tax_id="")
    closed.refresh_from_db()
    with pytest.raises(ValidationError, match="tax id"):
        x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)


def test_another_practices_claims_are_never_exported(closed, other_practice):
    physician = MembershipFactory(practice=other_practice, role=Role.PHYSICIAN)
    coordinator = MembershipFactory(practice=other_practice, role=Role.COORDINATOR)
    _cast(other_practice, physician, coordinator, count=2)
    _complete_demographics(other_practice)
    _close(other_practice)
    make_billing_setup(other_practice)
    ours = x12.month_837(closed, OCTOBER, control_number=1, created_at=CREATED)
    theirs = x12.month_837(other_practice, OCTOBER, control_number=1, created_at=CREATED)
    assert len(_all(ours, "CLM")) == 3
    assert len(_all(theirs, "CLM")) == 1
    assert not {s[1] for s in _all(ours, "CLM")} & {s[1] for s in _all(theirs, "CLM")}


def test_the_demo_practices_last_month_exports_a_valid_837(db):
    # seed_demo dates everything from "now"; October is then the last complete month.
    with time_machine.travel(dt.datetime(2026, 11, 10, 15, tzinfo=dt.UTC), tick=False):
        call_command("seed_demo", verbosity=0)
        out = StringIO()
        call_command("close_month", "--practice", "demo", "--month", "2026-10", stdout=out)
        demo = Practice.objects.get(slug="demo")
        make_billing_setup(demo)  # kept when the demo has its own
        document = x12.month_837(demo, OCTOBER, control_number=1)
    claims = Claim.objects.for_practice(demo).filter(month=OCTOBER).count()
    assert claims > 10
    assert f"{claims} claims" in out.getvalue()
    assert len(_all(document, "CLM")) == claims
    assert x12.validate_837(document) == []
    # A realistic mix: billable and not, for several reasons, base codes and add-ons.
    outcomes = Outcome.objects.for_practice(demo).filter(month=OCTOBER)
    assert outcomes.filter(billable=False).count() >= 5
    reasons = {rule for row in outcomes.values_list("blocked_by", flat=True) for rule in row}
    assert {"R11", "R27"} <= reasons
    codes = set(ClaimLine.objects.for_practice(demo).values_list("code", flat=True))
    assert {"99490", "99439"} <= codes
    # seed_demo closed the months before the last complete one (the billing history).
    september = MonthClose.objects.for_practice(demo).get(month=dt.date(2026, 9, 1))
    assert september.status == "closed"
