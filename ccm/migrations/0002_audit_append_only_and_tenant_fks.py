"""The database enforces what Python could get wrong.

- The audit log is append-only: a trigger refuses UPDATE and DELETE on ccm_auditevent.
- An API token's membership is in the token's practice: composite foreign key
  (practice_id, membership_id) → ccm_membership(practice_id, id) (ccm.tenancy.tenant_fk_sql).
"""

from django.db import migrations

from ccm.tenancy import tenant_fk_sql

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION ccm_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ccm_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ccm_auditevent_append_only
    BEFORE UPDATE OR DELETE ON ccm_auditevent
    FOR EACH ROW EXECUTE FUNCTION ccm_audit_append_only();
"""

DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS ccm_auditevent_append_only ON ccm_auditevent;
DROP FUNCTION IF EXISTS ccm_audit_append_only();
"""

token_fk, token_fk_reverse = tenant_fk_sql("ccm_apitoken", "membership_id", "ccm_membership")


class Migration(migrations.Migration):
    dependencies = [("ccm", "0001_initial")]

    operations = [
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
        migrations.RunSQL(token_fk, token_fk_reverse),
    ]
