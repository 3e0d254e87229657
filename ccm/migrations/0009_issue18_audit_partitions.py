"""The audit log partitioned by month, with one event per list view (issue 18).

- `patient_ids`: the patients a list page or API showed, in one event (GIN-indexed, so "who saw
  patient X" is an index lookup like `patient_id = X`).
- `ccm_auditevent` becomes a table partitioned by RANGE on `created_at`, one partition per UTC
  month (`ccm_auditevent_2026_12`) and a DEFAULT partition for anything outside them. PostgreSQL
  wants the partition key in every unique constraint, so the primary key is (id, created_at);
  the ORM's state keeps `id` as the primary key (`state_operations` only add the field and the
  index): ids still come from one sequence, so `id` alone is still unique in practice, and
  `pk` lookups and the seals' id ranges work as before.
- The rows are copied over with their ids and times unchanged, so existing seals still verify.
- The append-only trigger is re-created on the partitioned table; PostgreSQL clones a row
  trigger of a partitioned table onto every partition, present and future.
- `ccm_audit_partition_create(month)` creates one month's partition if missing; it runs as the
  owner (SECURITY DEFINER), so the runtime role's hourly seal job can create the months ahead
  (`ccm.audit.partitions_ensure`) without owning the table, and it takes back the UPDATE and
  DELETE that default privileges give the runtime role on a new table (as for the parent and
  the default partition here; `manage.py db_roles` does the same for every partition after
  `migrate`).

Not reversible: going back would have to drop the list events' patients.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

COLUMNS = (
    "id, actor_email, role, action, object_type, object_id, patient_id, ip, user_agent, "
    "request_id, changed_fields, created_at, actor_id, practice_id"
)

PARTITION_FUNCTIONS = """
-- Default privileges give other roles (the runtime role) DML on a table the owner creates:
-- an audit table may only be read and inserted into by them (as `manage.py db_roles` does).
CREATE OR REPLACE FUNCTION ccm_audit_insert_only(p_table regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = p_table AND a.grantee <> c.relowner
    LOOP
        EXECUTE format(
            'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM %s', p_table,
            CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(grantee)) END
        );
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION ccm_audit_partition_create(p_month date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    lo timestamptz := date_trunc('month', p_month)::timestamp AT TIME ZONE 'UTC';
    hi timestamptz := (date_trunc('month', p_month) + interval '1 month')::timestamp
        AT TIME ZONE 'UTC';
    part text := 'ccm_auditevent_' || to_char(p_month, 'YYYY_MM');
BEGIN
    -- One creator at a time: two beats, or a beat and a migration, race otherwise.
    PERFORM pg_advisory_xact_lock(6531861720386873645);
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Rows of the month already in the default partition would have to move (a DELETE, which
    -- the trigger refuses): the month then stays in the default partition.
    IF EXISTS (SELECT 1 FROM ccm_auditevent_default WHERE created_at >= lo AND created_at < hi)
    THEN
        RAISE WARNING 'audit events of % are in the default partition; no partition %',
            to_char(p_month, 'YYYY-MM'), part;
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF ccm_auditevent FOR VALUES FROM (%L) TO (%L)', part, lo, hi
    );
    PERFORM ccm_audit_insert_only(part::regclass);
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION ccm_audit_partitions_ensure(months_ahead integer) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT count(*)::integer FROM generate_series(0, months_ahead) AS n
    WHERE ccm_audit_partition_create(
        (date_trunc('month', now() AT TIME ZONE 'UTC') + n * interval '1 month')::date
    )
$$;
"""

PARTITION = f"""
ALTER TABLE ccm_auditevent RENAME TO ccm_auditevent_unpartitioned;
ALTER INDEX ccm_auditevent_pkey RENAME TO ccm_auditevent_unpartitioned_pkey;
DROP INDEX ccm_auditev_practic_c601d1_idx, ccm_auditev_practic_ec71bb_idx,
    ccm_auditev_practic_3c93ce_idx, ccm_auditevent_created_at_f112f410,
    ccm_auditevent_actor_id_3d6a99f9, ccm_auditevent_practice_id_81130113;

CREATE SEQUENCE ccm_auditevent_partitioned_id_seq AS bigint;
CREATE TABLE ccm_auditevent (
    id bigint NOT NULL DEFAULT nextval('ccm_auditevent_partitioned_id_seq'),
    actor_email varchar(254) NOT NULL,
    role varchar(20) NOT NULL,
    action varchar(64) NOT NULL,
    object_type varchar(64) NOT NULL,
    object_id varchar(64) NOT NULL,
    patient_id uuid NULL,
    -- A database default too: raw INSERTs (db_roles tests, bench/audit.py) may omit it.
    patient_ids uuid[] NOT NULL DEFAULT '{{}}',
    ip inet NULL,
    user_agent varchar(300) NOT NULL,
    request_id varchar(64) NOT NULL,
    changed_fields varchar(64)[] NOT NULL,
    created_at timestamp with time zone NOT NULL,
    actor_id uuid NULL,
    practice_id uuid NULL,
    CONSTRAINT ccm_auditevent_pkey PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE ccm_auditevent_partitioned_id_seq OWNED BY ccm_auditevent.id;
ALTER TABLE ccm_auditevent
    ADD CONSTRAINT ccm_auditevent_actor_id_3d6a99f9_fk_ccm_user_id
    FOREIGN KEY (actor_id) REFERENCES ccm_user (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE ccm_auditevent
    ADD CONSTRAINT ccm_auditevent_practice_id_81130113_fk_ccm_practice_id
    FOREIGN KEY (practice_id) REFERENCES ccm_practice (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX ccm_auditev_practic_c601d1_idx ON ccm_auditevent (practice_id, created_at DESC);
CREATE INDEX ccm_auditev_practic_ec71bb_idx
    ON ccm_auditevent (practice_id, patient_id, created_at DESC);
CREATE INDEX ccm_auditev_practic_3c93ce_idx
    ON ccm_auditevent (practice_id, actor_id, created_at DESC);
CREATE INDEX ccm_auditevent_created_at_f112f410 ON ccm_auditevent (created_at);
CREATE INDEX ccm_auditevent_actor_id_3d6a99f9 ON ccm_auditevent (actor_id);
CREATE INDEX ccm_auditevent_practice_id_81130113 ON ccm_auditevent (practice_id);
CREATE INDEX ccm_audit_patient_ids_gin ON ccm_auditevent USING gin (patient_ids);
CREATE TABLE ccm_auditevent_default PARTITION OF ccm_auditevent DEFAULT;

{PARTITION_FUNCTIONS}

-- A partition for every month of the existing events, then this month and the next two.
SELECT ccm_audit_partition_create(month::date)
FROM generate_series(
    date_trunc('month', coalesce(
        (SELECT min(created_at) FROM ccm_auditevent_unpartitioned), now()) AT TIME ZONE 'UTC'),
    date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months',
    interval '1 month'
) AS month;

INSERT INTO ccm_auditevent ({COLUMNS})
SELECT {COLUMNS} FROM ccm_auditevent_unpartitioned ORDER BY id;
SELECT setval(
    'ccm_auditevent_partitioned_id_seq',
    coalesce((SELECT max(id) FROM ccm_auditevent_unpartitioned), 0) + 1,
    false
);

CREATE TRIGGER ccm_auditevent_append_only
    BEFORE UPDATE OR DELETE ON ccm_auditevent
    FOR EACH ROW EXECUTE FUNCTION ccm_audit_append_only();
SELECT ccm_audit_insert_only('ccm_auditevent'), ccm_audit_insert_only('ccm_auditevent_default');

DROP TABLE ccm_auditevent_unpartitioned;
ALTER SEQUENCE ccm_auditevent_partitioned_id_seq RENAME TO ccm_auditevent_id_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("ccm", "0008_issue17")]

    operations = [
        migrations.RunSQL(
            PARTITION,
            reverse_sql=None,
            state_operations=[
                migrations.AddField(
                    model_name="auditevent",
                    name="patient_ids",
                    field=django.contrib.postgres.fields.ArrayField(
                        base_field=models.UUIDField(), blank=True, default=list, size=None
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=django.contrib.postgres.indexes.GinIndex(
                        fields=["patient_ids"], name="ccm_audit_patient_ids_gin"
                    ),
                ),
            ],
        ),
    ]
