"""The audit log's hash chain (ccm.audit.seal / verify): AuditSeal, append-only like the log.

The runtime role's grants (INSERT and SELECT only on both tables) come from `manage.py
db_roles`, run by the owner after every `migrate`.
"""

import django.utils.timezone
from django.db import migrations, models

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION ccm_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ccm_auditseal_append_only
    BEFORE UPDATE OR DELETE ON ccm_auditseal
    FOR EACH ROW EXECUTE FUNCTION ccm_append_only();
"""

DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS ccm_auditseal_append_only ON ccm_auditseal;
DROP FUNCTION IF EXISTS ccm_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ccm", "0006_database_cache_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("sequence", models.PositiveIntegerField(unique=True)),
                ("after_event_id", models.BigIntegerField()),
                ("last_event_id", models.BigIntegerField()),
                ("event_count", models.PositiveIntegerField()),
                ("sealed_through", models.DateTimeField()),
                ("digests", models.BinaryField()),
                ("previous_hash", models.CharField(blank=True, max_length=64)),
                ("hash", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["sequence"],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
