"""factory_boy factories. Related objects stay in one practice (HS RosterFactory)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import factory
import factory.random
import time_machine
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

from ccm.models import ApiToken, Membership, Practice, Role, User

PASSWORD = "correct-horse-battery-9"


def reset_for_test(test_id: str) -> None:
    """Make what the factories generate a function of the test alone: Faker's generator (names,
    dates of birth) is seeded from the test's id, and every sequence (MRN, e-mail, slug) starts
    at 0. Otherwise the data depends on which tests ran before on the same xdist worker (which
    the load decides), and a random name can contain a string a test asserts absent."""
    factory.random.reseed_random(f"caremonth:{test_id}")
    for cls in _factory_classes(factory.base.BaseFactory):
        meta = cls._meta
        if not meta.abstract and meta.counter_reference is meta:
            cls.reset_sequence(0)


def _factory_classes(base: type) -> Iterator[Any]:
    for sub in base.__subclasses__():
        yield sub
        yield from _factory_classes(sub)


class TenantFactory(factory.django.DjangoModelFactory):
    """Tenant tables have a fail-closed default manager; factories write through unscoped()."""

    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class: Any) -> Any:
        return model_class.objects.unscoped()


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice

    name = factory.Sequence(lambda n: f"Practice {n}")
    slug = factory.Sequence(lambda n: f"practice-{n}")
    time_zone = "America/New_York"
    billing_npi = "1234567893"
    mfa_required = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()


class MembershipFactory(TenantFactory):
    class Meta:
        model = Membership

    practice = factory.SubFactory(PracticeFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.COORDINATOR
    npi = factory.LazyAttribute(lambda m: "1679576722" if m.role == Role.PHYSICIAN else "")


class ApiTokenFactory(TenantFactory):
    class Meta:
        model = ApiToken

    membership = factory.SubFactory(MembershipFactory)
    practice = factory.SelfAttribute("membership.practice")
    name = "integration"
    prefix = factory.Sequence(lambda n: f"cm_{n:07d}")
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    created_by = factory.SelfAttribute("membership.user")


def enroll_totp(user: User) -> str:
    """Give a user a TOTP authenticator; returns the secret (for computing codes)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


@contextmanager
def totp_code(secret: str) -> Iterator[str]:
    """The authenticator's current code, with the clock held still until the block ends: the
    server checks the code against the 30-second step of *its* now (no tolerance), and on a
    busy machine a step can end between computing the code and the server checking it."""
    with time_machine.travel(time.time(), tick=False):
        yield format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


class PatientFactory(TenantFactory):
    class Meta:
        model = "patients.Patient"
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=65, maximum_age=95)
    sex = "female"
    mbi = "1EG4TE5MK73"

    @factory.post_generation
    def part_b(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Medicare Part B as primary coverage since 2000 (the month close bills only a
        patient with Medicare coverage in force); `part_b=False` for a patient without."""
        if create and extracted is not False:
            CoverageFactory(patient=self, member_id=self.mbi)


class PayerFactory(TenantFactory):
    class Meta:
        model = "patients.Payer"

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Payer {n}")
    payer_id = factory.Sequence(lambda n: f"P{n:05d}")
    kind = "medicare_advantage"


class PatientRowFactory(TenantFactory):
    """A row that belongs to a patient, in the patient's practice."""

    class Meta:
        abstract = True

    patient = factory.SubFactory(PatientFactory)
    practice = factory.SelfAttribute("patient.practice")


class CoverageFactory(PatientRowFactory):
    """Medicare Part B primary since 2000-01-01 unless told otherwise."""

    class Meta:
        model = "patients.Coverage"

    priority = "primary"
    kind = "part_b"
    member_id = "1EG4TE5MK73"
    starts_on = dt.date(2000, 1, 1)


class EngineInputFactory(PatientRowFactory):
    """Rows the billing engine reads: written straight to the table, then the worklist's
    stored progress is refreshed, as every service that writes them does."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from billing.progress.services import progress_refresh

        obj = super()._create(model_class, *args, **kwargs)
        months = [obj.billing_month] if hasattr(obj, "billing_month") else []
        progress_refresh(practice=obj.practice, patient_ids=[obj.patient_id], months=months)
        return obj


class ConditionFactory(EngineInputFactory):
    class Meta:
        model = "patients.Condition"

    icd10_code = "E11.9"
    description = "Type 2 diabetes mellitus without complications"


class ConsentFactory(EngineInputFactory):
    class Meta:
        model = "patients.Consent"

    method = "verbal"
    given_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 1, 5))
    obtained_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )
    explained_service = True
    explained_cost_sharing = True
    explained_one_practitioner = True
    explained_can_stop = True


def _utc(*args: int) -> Any:
    import datetime as dt

    return dt.datetime(*args, tzinfo=dt.UTC)


class TimeEntryFactory(EngineInputFactory):
    """Written straight to the table (no service rules); use services to test the rules."""

    class Meta:
        model = "timelog.TimeEntry"

    performer = factory.SubFactory(MembershipFactory, practice=factory.SelfAttribute("..practice"))
    performer_kind = "clinical_staff"
    practitioner = None
    started_at = factory.LazyFunction(lambda: _utc(2026, 1, 12, 15, 0))
    minutes = 10
    ended_at = factory.LazyAttribute(
        lambda e: e.started_at + __import__("datetime").timedelta(minutes=e.minutes)
    )
    activity = "call_patient"
    billing_month = factory.LazyAttribute(lambda e: e.started_at.date().replace(day=1))


class TaskFactory(PatientRowFactory):
    class Meta:
        model = "timelog.Task"

    kind = "follow_up_call"
    due_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 1, 15))
    month = factory.LazyAttribute(lambda t: t.due_on.replace(day=1))


def staff_time(
    patient: Any, performer: Any, practitioner: Any, started_at: Any, minutes: int
) -> Any:
    """Minutes a staff member logged for a patient under a billing practitioner (written
    straight to the table, as TimeEntryFactory; the month's progress refreshed)."""
    return TimeEntryFactory(
        patient=patient,
        performer=performer,
        practitioner=practitioner,
        started_at=started_at,
        minutes=minutes,
    )


# --- trans


class CareTransitionFactory(PatientRowFactory):
    """A hospital discharge written straight to the table (no follow-up tasks: use
    careplans.transition_services.transition_record to test the workflow)."""

    class Meta:
        model = "careplans.CareTransition"

    kind = "hospital_discharge"
    occurred_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 10, 15))
    facility = "Mercy General Hospital"
    recorded_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )


# --- meds


class MedicationFactory(PatientRowFactory):
    """An active medicine the patient reported (metformin unless told otherwise)."""

    class Meta:
        model = "patients.Medication"

    name = "Metformin 500 mg tablet"
    rxnorm_code = "860975"
    dose = "1 tablet"
    route = "by mouth"
    frequency = "twice daily"
    source = "patient"
    starts_on = factory.LazyFunction(lambda: __import__("datetime").date(2025, 3, 1))


class CareContactFactory(PatientRowFactory):
    """A caregiver of the patient (a daughter unless told otherwise)."""

    class Meta:
        model = "patients.CareContact"

    category = "caregiver"
    name = factory.Sequence(lambda n: f"Contact {n}")
    relationship = "Daughter"


class MedicationReconciliationFactory(PatientRowFactory):
    """A reconciliation with the patient on 2026-10-02 (no change lines unless added)."""

    class Meta:
        model = "patients.MedicationReconciliation"

    reconciled_at = factory.LazyFunction(lambda: _utc(2026, 10, 2, 15, 0))
    reconciled_on = factory.LazyAttribute(lambda r: r.reconciled_at.date())
    reconciled_with = "patient"


class MedicationChangeFactory(TenantFactory):
    class Meta:
        model = "patients.MedicationChange"

    reconciliation = factory.SubFactory(MedicationReconciliationFactory)
    practice = factory.SelfAttribute("reconciliation.practice")
    medication = factory.SubFactory(
        MedicationFactory, patient=factory.SelfAttribute("..reconciliation.patient")
    )
    action = "confirmed"


def medicines_reconciled(patient: Any, performer: Any) -> Any:
    """The patient's list holds metformin, confirmed in a reconciliation on 2026-10-02 (what a
    care plan needs before signing, R12)."""
    medication = MedicationFactory(patient=patient)
    reconciliation = MedicationReconciliationFactory(patient=patient, performed_by=performer)
    MedicationChangeFactory(reconciliation=reconciliation, medication=medication)
    return reconciliation


# --- team


class PractitionerContactFactory(PatientRowFactory):
    """A cardiologist unless told otherwise."""

    class Meta:
        model = "patients.CareContact"

    category = "practitioner"
    name = "Dr. Ana Ruiz"
    role = "Cardiologist"
    organisation = "Heart Associates"
    phone = "+12125550123"


class CallWindowFactory(PatientRowFactory):
    """Best time: weekdays 9:00 to 12:00 in the practice's zone."""

    class Meta:
        model = "patients.CallWindow"

    kind = "best"
    weekdays = factory.LazyFunction(lambda: [0, 1, 2, 3, 4])
    starts_at = factory.LazyFunction(lambda: __import__("datetime").time(9, 0))
    ends_at = factory.LazyFunction(lambda: __import__("datetime").time(12, 0))


# --- contacts


class ContactAttemptFactory(PatientRowFactory):
    """A reached call, written straight to the table; the worklist's progress refreshed (as
    the service does)."""

    class Meta:
        model = "timelog.ContactAttempt"

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from billing.progress.services import progress_refresh

        obj = super()._create(model_class, *args, **kwargs)
        progress_refresh(practice=obj.practice, patient_ids=[obj.patient_id], months=[obj.month])
        return obj

    occurred_at = factory.LazyFunction(lambda: _utc(2026, 1, 12, 15, 0))
    month = factory.LazyAttribute(lambda a: a.occurred_at.date().replace(day=1))
    outcome = "reached"
    recorded_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )


class SharingPermissionFactory(TenantFactory):
    """The contact's patient permits sharing everything, verbally, since 2026-01-01."""

    class Meta:
        model = "patients.SharingPermission"

    contact = factory.SubFactory(CareContactFactory)
    patient = factory.SelfAttribute("contact.patient")
    practice = factory.SelfAttribute("contact.practice")
    scopes = factory.LazyFunction(lambda: ["all"])
    method = "verbal"
    given_on = factory.LazyFunction(lambda: __import__("datetime").date(2026, 1, 1))
    recorded_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )


# --- summary (after-contact summaries, issue 17)


class SummaryCaregiverFactory(PatientRowFactory):
    """A caregiver of the patient (a CareContact), without any permission to share."""

    class Meta:
        model = "patients.CareContact"

    category = "caregiver"
    name = "Rosa Diaz"
    relationship = "Daughter"
    phone = "+12175550142"
    language = "Spanish"


class SummaryPermissionFactory(TenantFactory):
    """The patient's permission to share after-contact summaries with a contact, given
    2026-01-05 and open-ended unless told otherwise."""

    class Meta:
        model = "patients.SharingPermission"

    contact = factory.SubFactory(SummaryCaregiverFactory)
    practice = factory.SelfAttribute("contact.practice")
    patient = factory.SelfAttribute("contact.patient")
    scopes = factory.LazyFunction(lambda: ["summaries"])
    method = "verbal"
    given_on = factory.LazyFunction(lambda: dt.date(2026, 1, 5))
    recorded_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )


class SummaryAttemptFactory(PatientRowFactory):
    """A contact attempt (reached, by phone, with the patient unless told otherwise)."""

    class Meta:
        model = "timelog.ContactAttempt"

    occurred_at = factory.LazyFunction(lambda: _utc(2026, 10, 19, 15, 0))
    month = factory.LazyAttribute(lambda a: a.occurred_at.date().replace(day=1))
    outcome = "reached"
    recorded_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )


class ContactSummaryFactory(TenantFactory):
    """A summary of a reached contact, given to the patient in person."""

    class Meta:
        model = "timelog.ContactSummary"

    contact_attempt = factory.SubFactory(SummaryAttemptFactory)
    practice = factory.SelfAttribute("contact_attempt.practice")
    patient = factory.SelfAttribute("contact_attempt.patient")
    talked_about = "Your blood sugar readings this week."
    do_now = "Take metformin with breakfast and dinner."
    shared_method = "in_person"
    shared_on = factory.LazyFunction(lambda: dt.date(2026, 10, 19))
    created_by = factory.SelfAttribute("contact_attempt.recorded_by")
