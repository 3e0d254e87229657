"""Composite foreign keys: time, timers, tasks and digests never link two practices."""

from django.db import migrations

from ccm.tenancy import tenant_fk_sql

LINKS = [
    ("timelog_timeentry", "patient_id", "patients_patient"),
    ("timelog_timeentry", "performer_id", "ccm_membership"),
    ("timelog_timeentry", "practitioner_id", "ccm_membership"),
    ("timelog_timeadjustment", "entry_id", "timelog_timeentry"),
    ("timelog_timeadjustment", "patient_id", "patients_patient"),
    ("timelog_timeadjustment", "actor_id", "ccm_membership"),
    ("timelog_monthlock", "locked_by_id", "ccm_membership"),
    ("timelog_runningtimer", "membership_id", "ccm_membership"),
    ("timelog_runningtimer", "patient_id", "patients_patient"),
    ("timelog_task", "patient_id", "patients_patient"),
    ("timelog_task", "assignee_id", "ccm_membership"),
    ("timelog_task", "completed_by_id", "ccm_membership"),
    ("timelog_task", "time_entry_id", "timelog_timeentry"),
    ("timelog_task", "created_by_id", "ccm_membership"),
    ("timelog_reminderdigest", "membership_id", "ccm_membership"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("timelog", "0001_initial"),
        ("patients", "0002_same_practice_links"),
        ("ccm", "0003_practice_timer_confirm"),
    ]

    operations = [migrations.RunSQL(*tenant_fk_sql(*link)) for link in LINKS]
