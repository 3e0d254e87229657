"""The physician's home page shows the plans waiting for a signature (count and links), from
the signing queue's selector, in a fixed number of queries; other roles do not see it."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from careplans import services
from careplans.models import CarePlanVersion
from ccm.tenancy import practice_scope
from tests.careplans.conftest import COMPLETE
from tests.factories import medicines_reconciled
from tests.timelog.conftest import make_enrolled


def _submitted(practice, physician, coordinator, first, count):
    versions = []
    for n in range(first, first + count):
        with practice_scope(practice):
            patient = make_enrolled(practice, physician, coordinator, mrn=f"H-{n}")
            medicines_reconciled(patient, coordinator)  # R12: a plan needs a reconciled list
            draft = services.draft_start(practice=practice, actor=coordinator, patient=patient)
            services.draft_update(
                practice=practice, actor=coordinator, version=draft, data=COMPLETE
            )
            versions.append(
                services.draft_submit(practice=practice, actor=coordinator, version=draft)
            )
    return versions


def test_physician_home_lists_plans_waiting_for_a_signature(
    practice, physician, coordinator, physician_client
):
    versions = _submitted(practice, physician, coordinator, 0, 2)
    html = physician_client.get("/home/").content.decode()
    assert "Care plans to sign" in html
    assert "<strong>2</strong> plans waiting for a signature, 2 for your patients." in html
    for version in versions:
        assert f'href="/care-plans/{version.pk}/"' in html
    assert 'href="/care-plans/queue/"' in html


def test_physician_home_says_when_nothing_waits(physician_client):
    html = physician_client.get("/home/").content.decode()
    assert "Nothing is waiting for your signature." in html


def test_other_roles_do_not_get_the_signing_panel(
    practice, physician, coordinator, coordinator_client, admin_client
):
    _submitted(practice, physician, coordinator, 0, 1)
    for client in (coordinator_client, admin_client):
        assert "Care plans to sign" not in client.get("/home/").content.decode()


def test_another_practices_plans_are_not_counted(
    practice, physician, coordinator, physician_client, other_practice, outsider
):
    _submitted(practice, physician, coordinator, 0, 1)
    outsider.role = "physician"
    outsider.save()
    ours = physician_client.get("/home/").content.decode()
    assert "<strong>1</strong> plan waiting" in ours
    client = physician_client.__class__()
    client.force_login(outsider.user)
    assert "Nothing is waiting for your signature." in client.get("/home/").content.decode()


def test_home_panel_reads_a_fixed_number_of_queries(
    practice, physician, coordinator, physician_client
):
    _submitted(practice, physician, coordinator, 0, 2)
    physician_client.get("/home/")  # the session's activity stamp
    with CaptureQueriesContext(connection) as few:
        physician_client.get("/home/")
    _submitted(practice, physician, coordinator, 2, 8)
    with CaptureQueriesContext(connection) as many:
        html = physician_client.get("/home/").content.decode()
    assert "<strong>10</strong> plans waiting" in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_home_get_changes_no_plan(practice, physician, coordinator, physician_client):
    [version] = _submitted(practice, physician, coordinator, 0, 1)
    physician_client.get("/home/")
    version.refresh_from_db()
    assert version.status == "draft"
    assert CarePlanVersion.objects.unscoped().filter(signed_at__isnull=False).count() == 0
