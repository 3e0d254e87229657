"""Composite foreign keys for the reopen, export and import rows."""

from django.db import migrations

from ccm.tenancy import tenant_fk_sql

LINKS = [
    ("billing_monthclose", "reopened_by_id", "ccm_membership"),
    ("billing_export", "created_by_id", "ccm_membership"),
    ("billing_otherserviceimport", "uploaded_by_id", "ccm_membership"),
]


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_reopen_policy_exports")]

    operations = [migrations.RunSQL(*tenant_fk_sql(*link)) for link in LINKS]
