"""Composite same-practice foreign keys, and a trigger that keeps signed versions immutable:
a signed or superseded version may only go from signed to superseded; nothing else about it
changes, and it is never deleted (the database refuses, whatever the code path)."""

from django.db import migrations

from ccm.tenancy import tenant_fk_sql

LINKS = [
    ("careplans_careplan", "patient_id", "patients_patient"),
    ("careplans_careplanversion", "plan_id", "careplans_careplan"),
    ("careplans_careplanversion", "patient_id", "patients_patient"),
    ("careplans_careplanversion", "based_on_id", "careplans_careplanversion"),
    ("careplans_careplanversion", "created_by_id", "ccm_membership"),
    ("careplans_careplanversion", "updated_by_id", "ccm_membership"),
    ("careplans_careplanversion", "submitted_by_id", "ccm_membership"),
    ("careplans_careplanversion", "signed_by_id", "ccm_membership"),
    ("careplans_careplancopy", "version_id", "careplans_careplanversion"),
    ("careplans_careplancopy", "patient_id", "patients_patient"),
    ("careplans_careplancopy", "recorded_by_id", "ccm_membership"),
    ("careplans_hospitaldischarge", "patient_id", "patients_patient"),
    ("careplans_hospitaldischarge", "recorded_by_id", "ccm_membership"),
]

IMMUTABLE = """
CREATE FUNCTION careplans_version_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'a signed care plan version cannot be deleted';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' THEN
        IF NOT (OLD.status = 'signed' AND NEW.status IN ('signed', 'superseded'))
           OR (to_jsonb(NEW) - 'status') IS DISTINCT FROM (to_jsonb(OLD) - 'status') THEN
            RAISE EXCEPTION 'a signed care plan version cannot be changed';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER careplans_version_immutable
BEFORE UPDATE OR DELETE ON careplans_careplanversion
FOR EACH ROW EXECUTE FUNCTION careplans_version_immutable();
"""

MUTABLE = """
DROP TRIGGER IF EXISTS careplans_version_immutable ON careplans_careplanversion;
DROP FUNCTION IF EXISTS careplans_version_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("careplans", "0001_initial"),
        ("patients", "0003_search_indexes"),
        ("ccm", "0004_practice_care_plan_review"),
    ]

    operations = [
        *[migrations.RunSQL(*tenant_fk_sql(*link)) for link in LINKS],
        migrations.RunSQL(IMMUTABLE, MUTABLE),
    ]
