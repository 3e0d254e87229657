"""A covering index for the month close's read of a batch's entries (billing.inputs.loading
`load_month_batch`): a practice's month, a range of patients, in (patient, start) order, with
every column the engine needs, so the read is an index-only scan in the order it wants (no
sort), instead of visiting most of the month's heap pages (a batch's entries are spread over
about 70 % of them). Raw SQL: Django's Index has `include`, but the model (timelog.models) is
not this change's; the state needs no index to query."""

from django.db import migrations

NAME = "timelog_timeentry_close_covering"


class Migration(migrations.Migration):
    dependencies = [("timelog", "0005_issue17")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {NAME} ON timelog_timeentry "
            "(practice_id, billing_month, patient_id, started_at) "
            "INCLUDE (id, minutes, performer_kind, practitioner_id, face_to_face, activity)",
            f"DROP INDEX {NAME}",
        )
    ]
