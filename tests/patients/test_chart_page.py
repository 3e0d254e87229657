"""The chart page as a whole: every app's panel on one page, so their forms must not clash."""

from __future__ import annotations

import re
from collections import Counter

from tests.factories import (
    CallWindowFactory,
    CareContactFactory,
    CareTransitionFactory,
    ContactAttemptFactory,
    MedicationFactory,
    SharingPermissionFactory,
)

ID = re.compile(r'\sid="([^"]+)"')


def test_the_chart_has_no_duplicate_element_ids(coordinator, coordinator_client, patient):
    # Labels point at ids: a second form's `id_note` would take the first form's label.
    daughter = CareContactFactory(patient=patient, created_by=coordinator)
    SharingPermissionFactory(contact=daughter, recorded_by=coordinator)
    CallWindowFactory(patient=patient)
    MedicationFactory(patient=patient)
    CareTransitionFactory(patient=patient, recorded_by=coordinator)
    ContactAttemptFactory(patient=patient, recorded_by=coordinator)
    html = coordinator_client.get(f"/patients/{patient.pk}/").content.decode()
    twice = [name for name, n in Counter(ID.findall(html)).items() if n > 1]
    assert twice == []
