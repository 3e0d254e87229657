"""Composite foreign keys: every link from a patient-data row stays inside one practice.

(practice_id, X_id) → parent(practice_id, id), added by ccm.tenancy.tenant_fk_sql; the ORM keeps
its single-column foreign keys.
"""

from django.db import migrations

from ccm.tenancy import tenant_fk_sql

LINKS = [
    ("patients_patient", "billing_practitioner_id", "ccm_membership"),
    ("patients_patient", "coordinator_id", "ccm_membership"),
    ("patients_condition", "patient_id", "patients_patient"),
    ("patients_consent", "patient_id", "patients_patient"),
    ("patients_consent", "obtained_by_id", "ccm_membership"),
    ("patients_consent", "billing_practitioner_id", "ccm_membership"),
    ("patients_consent", "revoked_by_id", "ccm_membership"),
    ("patients_enrollmentevent", "patient_id", "patients_patient"),
    ("patients_enrollmentevent", "actor_id", "ccm_membership"),
    ("patients_patientimport", "uploaded_by_id", "ccm_membership"),
]


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial"), ("ccm", "0002_audit_append_only_and_tenant_fks")]

    operations = [migrations.RunSQL(*tenant_fk_sql(*link)) for link in LINKS]
