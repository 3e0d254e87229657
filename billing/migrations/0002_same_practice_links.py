"""Composite foreign keys: billing rows never link two practices."""

from django.db import migrations

from ccm.tenancy import tenant_fk_sql

LINKS = [
    ("billing_otherservice", "patient_id", "patients_patient"),
    ("billing_otherservice", "practitioner_id", "ccm_membership"),
    ("billing_otherservice", "created_by_id", "ccm_membership"),
    ("billing_patientmonthfacts", "patient_id", "patients_patient"),
    ("billing_monthclose", "started_by_id", "ccm_membership"),
    ("billing_outcome", "close_id", "billing_monthclose"),
    ("billing_outcome", "patient_id", "patients_patient"),
    ("billing_claim", "close_id", "billing_monthclose"),
    ("billing_claim", "patient_id", "patients_patient"),
    ("billing_claim", "billing_practitioner_id", "ccm_membership"),
    ("billing_claimline", "claim_id", "billing_claim"),
]


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(*tenant_fk_sql(*link)) for link in LINKS]
