import pytest

from ccm import audit, services
from ccm.models import AuditEvent
from ccm.tenancy import practice_scope
from tests.helpers import token_client


def test_me_with_a_token_names_user_practice_and_role(physician):
    body = token_client(physician).get("/api/v1/me/").json()
    assert body["user"]["email"] == physician.user.email
    assert body["practice"]["slug"] == "sunrise"
    assert body["role"] == "physician"
    assert body["auth"] == "token"


def test_me_with_a_browser_session(coordinator_client):
    body = coordinator_client.get("/api/v1/me/").json()
    assert body["role"] == "coordinator"
    assert body["auth"] == "session"


@pytest.mark.parametrize("header", ["Bearer cm_nope", "Bearer ", "Bearer not-even-ours", "Token x"])
def test_bad_credentials_get_401_or_no_auth(db, client, header):
    response = client.get("/api/v1/me/", headers={"Authorization": header})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_token_of_a_deactivated_member_stops_working(coordinator, admin):
    api = token_client(coordinator)
    assert api.get("/api/v1/me/").status_code == 200
    with practice_scope(admin.practice):
        services.member_set_active(
            practice=admin.practice, actor=admin, membership=coordinator, active=False
        )
    assert api.get("/api/v1/me/").status_code == 401


def test_token_use_is_audited_at_most_once_a_minute(coordinator):
    api = token_client(coordinator)
    for _ in range(3):
        api.get("/api/v1/me/")
    assert AuditEvent.objects.unscoped().filter(action="api_token.use").count() == 1


def test_token_cannot_be_used_on_pages(coordinator, client):
    api = token_client(coordinator)
    header = api._credentials["HTTP_AUTHORIZATION"]
    assert client.get("/home/", HTTP_AUTHORIZATION=header).status_code == 302


def test_audit_events_api_is_admin_only(admin, coordinator, biller):
    audit.record_for(coordinator, "patient.read", object_type="patients.patient")
    body = token_client(admin).get("/api/v1/audit-events/", {"action": "patient."}).json()
    assert body["count"] == 1
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"][0]["actor_email"] == coordinator.user.email
    assert token_client(coordinator).get("/api/v1/audit-events/").status_code == 403
    assert token_client(biller).get("/api/v1/audit-events/").status_code == 403


def test_audit_events_api_never_shows_another_practice(admin, outsider):
    audit.record_for(admin, "patient.read", object_type="patients.patient")
    body = token_client(outsider).get("/api/v1/audit-events/", {"action": "patient."}).json()
    assert body["count"] == 0


def test_audit_events_api_rejects_bad_filters_with_field_errors(admin):
    api = token_client(admin)
    response = api.get("/api/v1/audit-events/", {"patient": "nope", "date_from": "2026-13-01"})
    assert response.status_code == 400
    assert set(response.json()) == {"patient", "date_from"}
    reversed_range = api.get(
        "/api/v1/audit-events/", {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    assert reversed_range.status_code == 400
    assert "date_to" in reversed_range.json()


def test_audit_events_api_paginates(admin):
    for _ in range(3):
        audit.record_for(admin, "membership.read", obj=admin)
    body = token_client(admin).get("/api/v1/audit-events/", {"page_size": 2}).json()
    assert len(body["results"]) == 2
    assert body["next"]


def test_list_api_query_count_is_fixed(admin, django_assert_max_num_queries):
    for _ in range(60):
        audit.record_for(admin, "membership.read", obj=admin)
    api = token_client(admin)
    api.get("/api/v1/audit-events/")  # stamps the token's last use (a write, once a minute)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/audit-events/", {"page_size": 50})
    assert len(response.json()["results"]) == 50


def test_schema_is_valid_openapi_and_describes_every_endpoint(db, client):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/v1/me/", "/api/v1/audit-events/"} <= set(schema["paths"])
    assert "bearerAuth" in schema["components"]["securitySchemes"]


def test_the_schema_has_one_member_component(db, client):
    # One shape, one serializer (ccm.api.MemberSerializer), one component: {id, full_name}.
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    shape = {"id", "full_name"}
    members = [
        name
        for name, component in schema["components"]["schemas"].items()
        if set(component.get("properties", {})) == shape
    ]
    assert members == ["Member"]


def test_api_docs_page_is_served_without_a_cdn(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content
    assert b"cdn" not in response.content.lower()


@pytest.mark.parametrize(
    ("name", "value"),
    [("page", "0"), ("page", "x"), ("page_size", "null"), ("page_size", "0"), ("page_size", "201")],
)
def test_pagination_refuses_a_page_or_page_size_out_of_bounds_with_400(admin, name, value):
    from ccm.api_auth import PAGE_MESSAGE, PAGE_SIZE_MESSAGE

    response = token_client(admin).get("/api/v1/audit-events/", {name: value})
    assert response.status_code == 400
    message = PAGE_MESSAGE if name == "page" else PAGE_SIZE_MESSAGE
    assert response.json() == {name: [message]}


def test_a_multipart_body_is_refused_with_415_and_saves_nothing(coordinator, frozen_patient):
    from timelog.models import TimeEntry

    body = {
        "patient": str(frozen_patient.pk),
        "started_at": "2026-10-20T13:00:00Z",
        "minutes": "10",
        "activity": "call_patient",
    }
    response = token_client(coordinator).post("/api/v1/time-entries/", body, format="multipart")
    assert response.status_code == 415
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert not TimeEntry.objects.unscoped().exists()


@pytest.fixture
def frozen_patient(practice):
    from tests.factories import PatientFactory

    return PatientFactory(practice=practice)


@pytest.mark.parametrize("owner", ["unknown", "other practice"])
@pytest.mark.parametrize(
    ("path", "field", "kind"),
    [
        ("/api/v1/time-entries/", "patient", "patient"),
        ("/api/v1/tasks/", "patient", "patient"),
        ("/api/v1/tasks/", "assignee", "member"),
        ("/api/v1/patients/", "billing_practitioner", "member"),
        ("/api/v1/patients/", "coordinator", "member"),
    ],
)
def test_a_body_naming_an_unknown_or_foreign_object_is_404_and_saves_nothing(
    admin, physician, outsider, frozen_patient, path, field, kind, owner
):
    """Contract: another practice's object is answered as an unknown one, 404 (never reveal
    existence), in a body field as in the path; the JSON detail names the field."""
    import uuid

    from ccm.api import REFERENCE_MESSAGE
    from patients.models import Patient
    from tests.factories import PatientFactory
    from timelog.models import Task, TimeEntry

    if owner == "unknown":
        ref = uuid.uuid4()
    elif kind == "patient":
        ref = PatientFactory(practice=outsider.practice).pk
    else:
        ref = outsider.pk
    bodies = {
        "/api/v1/time-entries/": {
            "patient": str(frozen_patient.pk),
            "started_at": "2026-10-20T13:00:00Z",
            "minutes": 10,
            "activity": "call_patient",
        },
        "/api/v1/tasks/": {
            "patient": str(frozen_patient.pk),
            "kind": "check_in",
            "due_on": "2026-10-30",
        },
        "/api/v1/patients/": {
            "mrn": "NEW-1",
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": "1950-01-01",
        },
    }
    body = {**bodies[path], field: str(ref)}
    before = (
        TimeEntry.objects.unscoped().count(),
        Task.objects.unscoped().count(),
        Patient.objects.unscoped().count(),
    )
    response = token_client(admin).post(path, body, format="json")
    assert response.status_code == 404, response.json()
    assert response.json() == {"detail": REFERENCE_MESSAGE.format(field=field)}
    after = (
        TimeEntry.objects.unscoped().count(),
        Task.objects.unscoped().count(),
        Patient.objects.unscoped().count(),
    )
    assert after == before


def test_a_number_for_a_text_field_is_a_400_as_the_schema_says(admin):
    """The schema says `type: string`; DRF alone would store the number 0 as the text "0"."""
    from ccm.api import TEXT_TYPE_MESSAGE
    from patients.models import Patient

    body = {"mrn": "M-1", "first_name": 0, "last_name": "Lee", "date_of_birth": "1950-01-01"}
    response = token_client(admin).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"first_name": [TEXT_TYPE_MESSAGE]}
    assert not Patient.objects.unscoped().exists()
