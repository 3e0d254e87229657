"""The demo's care transitions: hospital discharges, an ED visit and a specialist visit, each
with its follow-up tasks, the summary PDF a real PDF; a re-run adds nothing."""

import filetype
import pytest

from careplans.models import CareTransition
from careplans.transition_demo import TRANSITIONS, demo_summary_pdf, seed_transitions
from tests.factories import PatientFactory
from timelog.models import Task

pytestmark = pytest.mark.usefixtures("frozen", "scoped", "media")


def test_the_demo_records_transitions_with_follow_up(practice, coordinator):
    for n in range(15):
        PatientFactory(practice=practice, mrn=f"D-{n:02d}", status="enrolled")
    assert seed_transitions(practice=practice, recorder=coordinator) == len(TRANSITIONS)
    kinds = sorted(CareTransition.objects.values_list("kind", flat=True))
    assert kinds == sorted(t.kind for t in TRANSITIONS)
    assert CareTransition.objects.exclude(document="").count() == 1
    assert Task.objects.filter(transition__isnull=False).count() == 9
    assert seed_transitions(practice=practice, recorder=coordinator) == 0


def test_the_demo_summary_is_a_pdf():
    assert filetype.guess(demo_summary_pdf()).mime == "application/pdf"
