"""Issue 17's "done means", in one real browser session over the demo data (what `make run`
seeds): the demo coordinator records a Spanish-speaking patient's hospital discharge with its
summary, follows the reconciliation task to reconcile the medicines with the daughter, logs
two unanswered calls and a reached call to the daughter (who may receive summaries), and
hands the patient a Spanish after-contact summary as a PDF."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

from playwright.sync_api import Page, expect

from careplans.models import CareTransition
from careplans.transition_demo import demo_summary_pdf
from ccm.models import Membership
from patients.careteam_selectors import may_share
from patients.language import patient_locale
from patients.models import (
    CareContact,
    Medication,
    MedicationReconciliation,
    Patient,
    ShareScope,
    Status,
)
from tests.e2e.conftest import ARTIFACTS, recent_local_times
from timelog.models import ContactAttempt, ContactSummary


def _spanish_patient_with_a_permitted_daughter() -> tuple[Patient, CareContact]:
    """The demo coordinator's first enrolled Spanish-speaking patient (by MRN) with two or more
    medicines, no recorded transition, and a daughter who may receive summaries."""
    coordinator = Membership.objects.unscoped().get(user__email="coordinator@demo.test")
    today = coordinator.practice.today()
    with_transitions = CareTransition.objects.unscoped().values("patient_id")
    patients = (
        Patient.objects.unscoped()
        .filter(practice=coordinator.practice, status=Status.ENROLLED, coordinator=coordinator)
        .exclude(pk__in=with_transitions)
        .order_by("mrn")
    )
    for patient in patients:
        if patient_locale(patient) != "es":
            continue
        if Medication.objects.unscoped().filter(patient=patient, status="active").count() < 2:
            continue
        for daughter in CareContact.objects.unscoped().filter(
            patient=patient, category="caregiver", relationship="Daughter", is_active=True
        ):
            if may_share(
                practice=patient.practice, contact=daughter, scope=ShareScope.SUMMARIES, on=today
            ):
                return patient, daughter
    raise AssertionError("the demo has no Spanish-speaking patient with a permitted daughter")


def _log_contact(page: Page, when: dt.datetime, outcome: str, note: str, who: str = "") -> None:
    section = page.locator("#contacts")
    section.get_by_text("Log a contact").click()
    section.get_by_label("When").fill(f"{when:%Y-%m-%dT%H:%M}")
    section.get_by_label("Outcome").select_option(outcome)
    if who:
        section.get_by_label("Who (care contact)").select_option(label=who)
    section.get_by_label("Note").fill(note)
    section.get_by_role("button", name="Save the contact").click()
    expect(page.locator(".messages")).to_contain_text("Contact recorded.")


def _pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


def test_a_coordinators_clinical_month_after_a_hospital_discharge(
    coordinator_page: Page, live_server, csp_violations, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/no-public-url/"},
        },
    }
    page, base = coordinator_page, live_server.url
    patient, daughter = _spanish_patient_with_a_permitted_daughter()
    chart = f"{base}/patients/{patient.pk}/"
    zone = patient.practice.zone
    discharged = patient.practice.today() - dt.timedelta(days=1)

    # 1. The hospital discharge, with its summary: a follow-up call and a reconciliation task.
    page.goto(chart)
    section = page.locator("#transitions")
    section.get_by_text("Record a transition").click()
    form = section.locator("form")
    form.get_by_label("Kind").select_option("hospital_discharge")
    form.get_by_label("Date:", exact=True).fill(discharged.isoformat())
    form.get_by_label("Admitted on").fill((discharged - dt.timedelta(days=3)).isoformat())
    form.get_by_label("Hospital or facility").fill("Lakeside Regional Hospital")
    form.get_by_label("Diagnoses").fill("CHF exacerbation")
    summary_pdf = {"name": "d.pdf", "mimeType": "application/pdf", "buffer": demo_summary_pdf()}
    form.get_by_label("Discharge summary or visit note").set_input_files(summary_pdf)
    form.get_by_role("button", name="Record transition").click()
    expect(page.locator(".messages")).to_contain_text("follow-up call is due within 2 business")

    # 2. The reconciliation task leads to the reconciliation: one dose changed, with the daughter.
    page.locator("#transitions").get_by_role(
        "link", name="Reconcile medicines after discharge"
    ).click()
    page.get_by_role("link", name="Reconcile the medicines").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reconcile medications")
    medicine = (
        Medication.objects.unscoped()
        .filter(patient=patient, status="active")
        .order_by("status", "name", "created_at")
        .first()
    )
    assert medicine is not None
    review = page.locator("fieldset.med-review", has_text=medicine.name)
    review.get_by_label("Change").check()
    review.get_by_label("Dose").fill("2 tablets")
    page.get_by_label("Reconciled with").select_option("caregiver")
    page.get_by_label("Sources reviewed").fill("Discharge summary, pill bottles")
    page.get_by_label("Discrepancies found").fill("Dose doubled at discharge.")
    page.get_by_role("button", name="Record reconciliation").click()
    expect(page.locator(".messages")).to_contain_text("Reconciliation recorded")
    expect(page.locator("#medications .meds-history li").first).to_contain_text("2 tablets")
    assert MedicationReconciliation.objects.unscoped().filter(patient=patient).exists()

    # 3. Two unanswered calls, then the daughter reached.
    no_answer, voicemail, reached = recent_local_times(zone, 3)
    page.goto(chart)
    already = re.search(r"(\d+) unanswered this month", page.locator("#contacts").inner_text())
    unanswered = int(already.group(1)) if already else 0  # the demo's earlier tries, if any
    _log_contact(page, no_answer, "no_answer", "No answer.")
    _log_contact(page, voicemail, "voicemail", "Asked for a call back.")
    expect(page.locator("#contacts")).to_contain_text(f"{unanswered + 2} unanswered this month")
    who = f"{daughter.name} ({daughter.relationship})"
    _log_contact(page, reached, "reached", "Went over the new dose with the daughter.", who)
    expect(page.locator("#contacts")).to_contain_text(f"Last reached: {reached:%Y-%m-%d %H:%M}")
    attempts = ContactAttempt.objects.unscoped().filter(patient=patient, occurred_at__gte=no_answer)
    assert sorted(attempts.values_list("outcome", flat=True)) == [
        "no_answer",
        "reached",
        "voicemail",
    ]

    # 4. The Spanish summary of the reached call, given to the patient in person.
    call = attempts.get(outcome="reached")
    page.locator(f'#summaries a[href*="{call.pk}"]').click()
    expect(page.locator("#summary-language")).to_contain_text("prints in Spanish")
    page.get_by_label("What we talked about").fill("La nueva dosis después del hospital.")
    page.get_by_label("What to do now").fill("Tome 2 tabletas cada mañana.")
    page.get_by_label("What to watch for").fill("Hinchazón o falta de aire: llámenos.")
    page.get_by_label("How it was shared").select_option("in_person")
    page.get_by_role("button", name="Record as shared").click()
    expect(page.locator(".messages")).to_contain_text("Summary recorded as shared.")
    summary = ContactSummary.objects.unscoped().get(contact_attempt=call)
    assert summary.language == "es"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF (Spanish)").click()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "clinical-month-summary.pdf"
    download.value.save_as(pdf)
    text = _pdf_text(pdf)
    assert "Qué hacer ahora" in text
    assert "Tome 2 tabletas cada mañana." in text
    assert "What to do now" not in text
    assert csp_violations == []
