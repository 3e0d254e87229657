"""Hospital discharges become care transitions (ED visits, hospital and SNF discharges,
specialist visits) with diagnoses, notes and an attached document; rows are kept."""

import django.db.models.deletion
from django.db import migrations, models

import careplans.models
from ccm.tenancy import tenant_fk_sql

RENAMED = [
    ("careplans_hospitaldischarge_patient_id_same_practice_fk", "patient_id"),
    ("careplans_hospitaldischarge_recorded_by_id_same_practice_fk", "recorded_by_id"),
]


def _rename_constraints() -> list[migrations.RunSQL]:
    return [
        migrations.RunSQL(
            f"ALTER TABLE careplans_caretransition RENAME CONSTRAINT {name} "
            f"TO careplans_caretransition_{column}_same_practice_fk",
            f"ALTER TABLE careplans_caretransition RENAME CONSTRAINT "
            f"careplans_caretransition_{column}_same_practice_fk TO {name}",
        )
        for name, column in RENAMED
    ]


class Migration(migrations.Migration):

    dependencies = [
        ('careplans', '0002_same_practice_links_and_signed_immutable'),
        ('ccm', '0008_issue17'),
        ('patients', '0005_issue17'),
    ]

    operations = [
        migrations.RenameModel('HospitalDischarge', 'CareTransition'),
        *_rename_constraints(),
        migrations.RenameField('caretransition', 'discharged_on', 'occurred_on'),
        migrations.AlterModelOptions(
            name='caretransition', options={'ordering': ['-occurred_on', '-created_at']}
        ),
        migrations.AlterField(
            model_name='caretransition',
            name='patient',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='transitions', to='patients.patient'),
        ),
        migrations.AlterField(
            model_name='caretransition',
            name='note',
            field=models.TextField(blank=True, verbose_name='discharge or visit notes'),
        ),
        migrations.AddField(
            model_name='caretransition',
            name='kind',
            field=models.CharField(choices=[('ed_visit', 'Emergency department visit'), ('hospital_discharge', 'Hospital discharge'), ('snf_discharge', 'Skilled nursing facility discharge'), ('specialist_visit', 'Specialist visit')], default='hospital_discharge', max_length=20),
        ),
        migrations.AddField(
            model_name='caretransition',
            name='admitted_on',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='caretransition',
            name='contact',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='patients.carecontact'),
        ),
        migrations.AddField(
            model_name='caretransition',
            name='diagnoses',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='caretransition',
            name='document',
            field=models.FileField(blank=True, upload_to=careplans.models.transition_upload_path, verbose_name='discharge summary or visit note'),
        ),
        migrations.AddField(
            model_name='caretransition',
            name='document_type',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddIndex(
            model_name='caretransition',
            index=models.Index(fields=['practice', 'patient', 'occurred_on'], name='careplans_c_practic_c0206d_idx'),
        ),
        migrations.AddConstraint(
            model_name='caretransition',
            constraint=models.UniqueConstraint(fields=('practice', 'id'), name='careplans_transition_practice_id'),
        ),
        migrations.AddConstraint(
            model_name='caretransition',
            constraint=models.CheckConstraint(condition=models.Q(('admitted_on__isnull', True), ('admitted_on__lte', models.F('occurred_on')), _connector='OR'), name='careplans_transition_dates_in_order'),
        ),
        migrations.RunSQL(*tenant_fk_sql('careplans_caretransition', 'contact_id', 'patients_carecontact')),
    ]
