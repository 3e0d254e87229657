import pytest

from ccm.api import REFERENCE_MESSAGE
from ccm.audit_selectors import about_patient
from ccm.models import AuditEvent
from ccm.tenancy import ROLE_FORBIDDEN_MESSAGE, practice_scope
from patients import apis, services
from patients.models import Condition, Consent, Patient, Status
from patients.validators import ICD10_NOT_BILLABLE_MESSAGE, ICD10_UNKNOWN_MESSAGE, MBI_MESSAGE
from tests.factories import ConditionFactory, PatientFactory
from tests.helpers import frozen_clock, token_client
from tests.patients.conftest import CONSENT, NEW_PATIENT, NOW

LIST = "/api/v1/patients/"
NEW = {
    **NEW_PATIENT,
    "mbi": "1EG4-TE5-MK73",
    "phone": "(212) 555-0199",
    "initiating_visit_on": "2026-11-01",
    "initiating_visit_code": "99214",
    "conditions": ["E11.9", "I10"],
}
CONSENT_JSON = {**CONSENT, "given_on": "2026-11-02"}
# (method, path under /api/v1/patients/{id}/, body) of every patient endpoint.
ENDPOINTS = [
    ("get", "", None),
    ("patch", "", {"first_name": "Mallory"}),
    ("post", "consent/", CONSENT_JSON),
    ("post", "consent/revoke/", {"revoked_on": "2026-11-10"}),
    ("post", "enroll/", {}),
    ("get", "fhir/", None),
]
WRITE_BODIES = {
    "consent/": CONSENT_JSON,
    "consent/revoke/": {"revoked_on": "2026-11-10"},
    "enroll/": {},
}
_frozen_clock = frozen_clock(NOW, autouse=True)


@pytest.fixture
def api():
    """A Bearer-token API client for a membership (as an integrator would call us)."""
    return token_client


def _url(patient, suffix=""):
    return f"{LIST}{patient.pk}/{suffix}"


def _counts():
    return tuple(m.objects.unscoped().count() for m in (Patient, Condition, Consent))


def _new(physician, coordinator, /, **overrides):
    return {
        **NEW,
        "billing_practitioner": str(physician.pk),
        "coordinator": str(coordinator.pk),
        **overrides,
    }


def _consent(practice, actor, patient, **overrides):
    with practice_scope(practice):
        return services.consent_record(
            practice=practice, actor=actor, patient=patient, **{**CONSENT, **overrides}
        )


def _reads(patient, action="patient.read"):
    events = AuditEvent.objects.unscoped().filter(about_patient(patient.pk), action=action)
    return events.count()


# --- Tenancy, roles, methods -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS)
def test_outsider_gets_404_and_changes_nothing(api, outsider, patient, method, suffix, body):
    before = _counts()
    response = getattr(api(outsider), method)(_url(patient, suffix), body, format="json")
    assert response.status_code == 404
    assert patient.last_name not in response.content.decode()
    assert _counts() == before
    patient.refresh_from_db()
    assert patient.first_name == "Ada"


def test_outsider_lists_none_of_the_practices_patients(api, outsider, patient):
    body = api(outsider).get(LIST).json()
    assert body["count"] == 0
    listed = AuditEvent.objects.unscoped().filter(about_patient(patient.pk), action="patient.list")
    assert not listed.exists()


@pytest.mark.parametrize("suffix", WRITE_BODIES)
def test_biller_may_not_record_consent_revoke_or_enroll(api, biller, coordinator, patient, suffix):
    _consent(patient.practice, coordinator, patient)
    before = _counts()
    response = api(biller).post(_url(patient, suffix), WRITE_BODIES[suffix], format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": ROLE_FORBIDDEN_MESSAGE}
    assert _counts() == before


@pytest.mark.parametrize("suffix", WRITE_BODIES)
def test_get_on_a_write_endpoint_is_rejected(api, coordinator, patient, suffix):
    assert api(coordinator).get(_url(patient, suffix)).status_code == 405


def test_patients_cannot_be_deleted_or_replaced(api, admin, patient):
    client = api(admin)
    assert client.delete(_url(patient)).status_code == 405
    assert client.put(_url(patient), NEW, format="json").status_code == 405
    assert Patient.objects.unscoped().filter(pk=patient.pk).exists()


def test_unknown_patient_id_is_404(api, coordinator, patient):
    assert api(coordinator).get(f"{LIST}00000000-0000-0000-0000-000000000000/").status_code == 404


# --- List --------------------------------------------------------------------------------------


def test_list_is_paginated_and_sorted_by_name(api, biller, practice, patient):
    PatientFactory(practice=practice, last_name="Babbage", first_name="Charles")
    ConditionFactory(patient=patient, icd10_code="J44.9", description="COPD", is_chronic=False)
    body = api(biller).get(LIST, {"page_size": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2
    assert body["next"]
    row = body["results"][0]
    assert row["last_name"] == "Babbage"
    second = api(biller).get(body["next"]).json()["results"][0]
    assert second["id"] == str(patient.pk)
    assert second["chronic_condition_count"] == 2
    assert second["coordinator"]["id"] == str(patient.coordinator_id)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "love"}, ["A-1001"]),
        ({"q": "1948-05-17"}, ["A-1001"]),
        ({"status": "enrolled"}, ["E-1"]),
        ({"status": ""}, ["A-1001", "E-1"]),
    ],
)
def test_list_filters_by_search_and_status(api, coordinator, practice, patient, params, expected):
    PatientFactory(practice=practice, mrn="E-1", last_name="Zed", status=Status.ENROLLED)
    body = api(coordinator).get(LIST, params).json()
    assert [p["mrn"] for p in body["results"]] == expected


def test_list_filters_by_coordinator(api, admin, practice, coordinator, patient):
    PatientFactory(practice=practice, mrn="X-1", coordinator=admin)
    body = api(admin).get(LIST, {"coordinator": str(coordinator.pk)}).json()
    assert [p["mrn"] for p in body["results"]] == ["A-1001"]


def test_bad_list_filters_are_400_naming_the_field(api, coordinator):
    response = api(coordinator).get(LIST, {"status": "asleep", "coordinator": "nope"})
    assert response.status_code == 400
    assert set(response.json()) == {"status", "coordinator"}


def test_every_listed_patient_is_audited_in_one_event(api, coordinator, practice, patient):
    other = PatientFactory(practice=practice)
    api(coordinator).get(LIST)
    assert _reads(patient, "patient.list") == 1
    assert _reads(other, "patient.list") == 1
    event = AuditEvent.objects.unscoped().get(action="patient.list")  # one, naming both
    assert (event.patient_id, set(event.patient_ids)) == (None, {patient.pk, other.pk})


def test_list_query_count_is_fixed(api, coordinator, practice, django_assert_max_num_queries):
    for n in range(35):
        patient = PatientFactory(practice=practice, coordinator=coordinator, mrn=f"Q-{n}")
        ConditionFactory(patient=patient)
    client = api(coordinator)
    client.get(LIST)  # stamps the token's last use (a write, once a minute)
    # Token, its last-use stamp, session, count, page, one INSERT of the audit events:
    # the same at 35 rows as at 1 (coordinators and condition counts are joined).
    with django_assert_max_num_queries(6):
        response = client.get(LIST, {"page_size": 35})
    assert len(response.json()["results"]) == 35


# --- Create ------------------------------------------------------------------------------------


def test_coordinator_adds_a_candidate_with_conditions(api, coordinator, physician):
    response = api(coordinator).post(LIST, _new(physician, coordinator), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "candidate"
    assert body["mbi"] == "1EG4TE5MK73"
    assert body["phone"] == "+12125550199"
    assert [c["icd10_code"] for c in body["conditions"]] == ["E11.9", "I10"]
    assert body["billing_practitioner"]["id"] == str(physician.pk)
    assert body["consent"] is None
    assert body["created_at"].endswith("Z")
    patient = Patient.objects.unscoped().get(pk=body["id"])
    assert AuditEvent.objects.unscoped().filter(action="patient.create", patient_id=patient.pk)


def test_biller_may_not_add_patients(api, biller, physician, coordinator):
    response = api(biller).post(LIST, _new(physician, coordinator), format="json")
    assert response.status_code == 403
    assert not Patient.objects.unscoped().exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mbi", "0000", MBI_MESSAGE),
        ("date_of_birth", "2099-01-01", services.FUTURE_DOB_MESSAGE),
        ("date_of_birth", "17/05/1948", None),
        ("conditions", ["E11.9", "ZZZ.9"], ICD10_UNKNOWN_MESSAGE),
        ("conditions", ["E11"], ICD10_NOT_BILLABLE_MESSAGE),
        ("conditions", ["I10", "i10"], services.DUPLICATE_CONDITION_MESSAGE),
        ("conditions", "E11.9", None),
        ("first_name", "", None),
        ("sex", "robot", None),
        ("phone", "12", None),
        ("state", "New York", None),
        ("initiating_visit_code", "9", None),
    ],
)
def test_bad_new_patient_is_400_naming_the_field_and_saves_nothing(
    api, coordinator, physician, field, value, message
):
    before = _counts()
    data = _new(physician, coordinator, **{field: value})
    response = api(coordinator).post(LIST, data, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    if message:
        assert response.json()[field] == [message]
    assert _counts() == before


@pytest.mark.parametrize(
    ("field", "member", "code", "body"),
    [
        ("billing_practitioner", "coordinator", 400, [services.NOT_A_PHYSICIAN_MESSAGE]),
        ("coordinator", "biller", 400, [services.NOT_A_CLINICIAN_MESSAGE]),
        # Another practice's member is answered as an unknown one: 404 (never reveal existence).
        ("billing_practitioner", "outsider", 404, None),
        ("coordinator", "outsider", 404, None),
    ],
)
def test_linked_members_must_fit_and_belong_to_the_practice(
    api, request, coordinator, physician, field, member, code, body
):
    other = request.getfixturevalue(member)
    data = _new(physician, coordinator, **{field: str(other.pk)})
    response = api(coordinator).post(LIST, data, format="json")
    assert response.status_code == code
    if body is None:
        assert response.json() == {"detail": REFERENCE_MESSAGE.format(field=field)}
    else:
        assert response.json() == {field: body}
    assert not Patient.objects.unscoped().exists()


def test_missing_required_fields_are_each_named(api, coordinator):
    response = api(coordinator).post(LIST, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"mrn", "first_name", "last_name", "date_of_birth"}


def test_duplicate_mrn_is_refused_in_one_practice_but_allowed_in_another(
    api, coordinator, outsider, patient
):
    data = {**NEW, "mrn": patient.mrn, "conditions": []}
    response = api(coordinator).post(LIST, data, format="json")
    assert response.status_code == 400
    assert response.json() == {"mrn": [services.DUPLICATE_MRN_MESSAGE]}
    assert api(outsider).post(LIST, data, format="json").status_code == 201
    assert Patient.objects.unscoped().filter(mrn=patient.mrn).count() == 2


# --- Read --------------------------------------------------------------------------------------


def test_detail_shows_conditions_consent_eligibility_and_status(api, biller, coordinator, patient):
    consent = _consent(patient.practice, coordinator, patient)
    body = api(biller).get(_url(patient)).json()
    assert body["id"] == str(patient.pk)
    assert body["status"] == "candidate"
    assert [(c["icd10_code"], c["status"]) for c in body["conditions"]] == [
        ("E11.9", "active"),
        ("I10", "active"),
    ]
    assert body["consent"]["id"] == str(consent.pk)
    assert body["consent"]["revoked_on"] is None
    assert body["eligibility"]["eligible"] is True
    assert [c["rule"] for c in body["eligibility"]["checks"]] == ["R4", "R8", "R9"]
    assert all(c["sentence"].startswith(c["rule"]) for c in body["eligibility"]["checks"])


def test_detail_explains_why_a_patient_is_not_eligible(api, coordinator, practice):
    lonely = PatientFactory(practice=practice)
    body = api(coordinator).get(_url(lonely)).json()
    assert body["eligibility"]["eligible"] is False
    failed = {c["rule"] for c in body["eligibility"]["checks"] if not c["ok"]}
    assert failed == {"R4", "R8"}


def test_reading_a_patient_is_audited(api, biller, patient):
    before = _reads(patient)
    api(biller).get(_url(patient))
    assert _reads(patient) == before + 1
    event = AuditEvent.objects.unscoped().filter(action="patient.read").latest("id")
    assert event.actor_id == biller.user_id
    assert event.object_id == str(patient.pk)


# --- Update ------------------------------------------------------------------------------------


def test_clinician_updates_demographics_and_clinical_fields(api, physician, admin, patient):
    data = {"first_name": "Augusta", "notes": "Prefers mornings.", "coordinator": str(admin.pk)}
    response = api(physician).patch(_url(patient), data, format="json")
    assert response.status_code == 200
    assert response.json()["coordinator"]["id"] == str(admin.pk)
    patient.refresh_from_db()
    assert (patient.first_name, patient.notes) == ("Augusta", "Prefers mornings.")
    assert patient.coordinator_id == admin.pk
    update = AuditEvent.objects.unscoped().get(action="patient.update", patient_id=patient.pk)
    assert update.changed_fields == ["coordinator", "first_name", "notes"]


def test_patch_can_unassign_the_coordinator(api, coordinator, patient):
    response = api(coordinator).patch(_url(patient), {"coordinator": None}, format="json")
    assert response.status_code == 200
    assert response.json()["coordinator"] is None


def test_conditions_in_a_patch_replace_the_active_problem_list(api, coordinator, patient):
    response = api(coordinator).patch(_url(patient), {"conditions": ["I10", "J449"]}, format="json")
    assert response.status_code == 200
    listed = {c["icd10_code"]: c["status"] for c in response.json()["conditions"]}
    assert listed == {"E11.9": "resolved", "I10": "active", "J44.9": "active"}
    assert response.json()["conditions"][0]["resolved_on"] == "2026-11-20"


def test_biller_can_change_demographics(api, biller, patient):
    response = api(biller).patch(_url(patient), {"phone": "212-555-0123"}, format="json")
    assert response.status_code == 200
    patient.refresh_from_db()
    assert str(patient.phone) == "+12125550123"


@pytest.mark.parametrize(
    "data",
    [
        {"notes": "x"},
        {"initiating_visit_on": "2026-11-03"},
        {"coordinator": None},
        {"first_name": "Mallory", "conditions": ["E11.9", "I10"]},
        {"conditions": []},
    ],
)
def test_biller_cannot_edit_clinical_fields_or_conditions(api, biller, patient, data):
    before = _counts()
    response = api(biller).patch(_url(patient), data, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": services.BILLER_EDIT_MESSAGE}
    assert _counts() == before
    patient.refresh_from_db()
    assert patient.first_name == "Ada"
    assert patient.coordinator_id is not None
    statuses = {c.status for c in Condition.objects.unscoped().filter(patient=patient)}
    assert statuses == {"active"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": "Mallory", "conditions": ["I10", "ZZZ.9"]}, "conditions"),
        ({"first_name": "Mallory", "conditions": ["I10", "I10"]}, "conditions"),
        ({"first_name": "Mallory", "mbi": "0000"}, "mbi"),
        ({"first_name": "Mallory", "date_of_birth": "2099-01-01"}, "date_of_birth"),
        ({"first_name": "Mallory", "last_name": ""}, "last_name"),
        ({"first_name": "Mallory", "billing_practitioner": "not-a-uuid"}, "billing_practitioner"),
    ],
)
def test_bad_patch_is_400_and_saves_nothing(api, coordinator, patient, data, field):
    response = api(coordinator).patch(_url(patient), data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    patient.refresh_from_db()
    assert patient.first_name == "Ada"
    codes = Condition.objects.unscoped().filter(patient=patient, status="active")
    assert sorted(c.icd10_code for c in codes) == ["E11.9", "I10"]
    assert not AuditEvent.objects.unscoped().filter(action="patient.update").exists()


def test_patch_to_a_taken_mrn_is_refused(api, coordinator, practice, patient):
    PatientFactory(practice=practice, mrn="TAKEN-1")
    response = api(coordinator).patch(_url(patient), {"mrn": "TAKEN-1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"mrn": [services.DUPLICATE_MRN_MESSAGE]}


# --- Consent -----------------------------------------------------------------------------------


def test_coordinator_records_consent(api, coordinator, patient):
    response = api(coordinator).post(_url(patient, "consent/"), CONSENT_JSON, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["method"], body["given_on"], body["revoked_on"]) == ("verbal", "2026-11-02", None)
    assert body["obtained_by"] == str(coordinator.pk)
    assert Consent.objects.unscoped().get(pk=body["id"]).patient_id == patient.pk
    assert api(coordinator).get(_url(patient)).json()["consent"]["id"] == body["id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"explained_can_stop": False}, "explained_can_stop"),
        ({"given_on": "2026-12-01"}, "given_on"),
        ({"given_on": "1900-01-01"}, "given_on"),
        ({"given_on": "yesterday"}, "given_on"),
        ({"method": "telepathy"}, "method"),
        ({"explained_service": None}, "explained_service"),
    ],
)
def test_bad_consent_is_400_naming_the_field_and_saves_nothing(
    api, coordinator, patient, overrides, field
):
    data = {**CONSENT_JSON, **overrides}
    response = api(coordinator).post(_url(patient, "consent/"), data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Consent.objects.unscoped().exists()


def test_revoking_the_current_consent_takes_effect_at_month_end(api, physician, patient):
    consent = _consent(patient.practice, physician, patient)
    data = {"revoked_on": "2026-11-10", "reason": "Moving away"}
    response = api(physician).post(_url(patient, "consent/revoke/"), data, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(consent.pk)
    assert (body["revoked_on"], body["revocation_effective_on"]) == ("2026-11-10", "2026-11-30")
    assert api(physician).get(_url(patient)).json()["consent"] is None


def test_revoking_without_a_current_consent_is_409(api, coordinator, patient):
    data = {"revoked_on": "2026-11-10"}
    response = api(coordinator).post(_url(patient, "consent/revoke/"), data, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": apis.NO_CURRENT_CONSENT_MESSAGE}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"revoked_on": "2026-11-01"}, services.REVOKE_BEFORE_CONSENT_MESSAGE),
        ({"revoked_on": "2026-12-01"}, services.CONSENT_FUTURE_MESSAGE),
        ({}, None),
    ],
)
def test_bad_revocation_is_400_on_revoked_on_and_saves_nothing(
    api, coordinator, patient, data, message
):
    consent = _consent(patient.practice, coordinator, patient)
    response = api(coordinator).post(_url(patient, "consent/revoke/"), data, format="json")
    assert response.status_code == 400
    assert "revoked_on" in response.json()
    if message:
        assert response.json()["revoked_on"] == [message]
    consent.refresh_from_db()
    assert consent.revoked_on is None


# --- Enroll ------------------------------------------------------------------------------------


def test_enrolling_an_eligible_patient_with_consent(api, coordinator, patient):
    _consent(patient.practice, coordinator, patient)
    response = api(coordinator).post(_url(patient, "enroll/"), format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_on"]) == ("enrolled", "2026-11-20")
    patient.refresh_from_db()
    assert patient.status == Status.ENROLLED


def test_enrolling_without_consent_is_409_and_changes_nothing(api, coordinator, patient):
    response = api(coordinator).post(_url(patient, "enroll/"), format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": services.ENROLL_NO_CONSENT_MESSAGE}
    patient.refresh_from_db()
    assert patient.status == Status.CANDIDATE


def test_enrolling_an_ineligible_patient_cites_the_rule(api, coordinator, patient):
    with practice_scope(patient.practice):
        services.patient_update(
            practice=patient.practice,
            actor=coordinator,
            patient=patient,
            data={"initiating_visit_code": "99211"},
        )
    _consent(patient.practice, coordinator, patient)
    response = api(coordinator).post(_url(patient, "enroll/"), format="json")
    assert response.status_code == 409
    message = response.json()["detail"]
    assert message.startswith("The patient is not eligible for CCM: R9:")


def test_enrolling_twice_is_409(api, coordinator, patient):
    _consent(patient.practice, coordinator, patient)
    client = api(coordinator)
    assert client.post(_url(patient, "enroll/")).status_code == 200
    response = client.post(_url(patient, "enroll/"))
    assert response.status_code == 409
    assert response.json() == {"detail": services.ENROLL_STATUS_MESSAGE}


# --- FHIR --------------------------------------------------------------------------------------


def test_fhir_export_is_served_as_fhir_json_and_audited(api, biller, patient):
    before = _reads(patient)
    response = api(biller).get(_url(patient, "fhir/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "Bundle"
    assert _reads(patient) == before + 1


def test_fhir_export_falls_back_to_json_when_only_that_is_accepted(api, coordinator, patient):
    response = api(coordinator).get(_url(patient, "fhir/"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_session_clients_work_too(coordinator_client, patient):
    response = coordinator_client.get(_url(patient))
    assert response.status_code == 200
    assert response.json()["mrn"] == "A-1001"


# --- Schema ------------------------------------------------------------------------------------


def test_schema_describes_the_patient_endpoints(db, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/patients/"])
    assert {"get", "patch"} <= set(paths["/api/v1/patients/{patient_id}/"])
    fhir = paths["/api/v1/patients/{patient_id}/fhir/"]["get"]["responses"]["200"]
    assert set(fhir["content"]) == {"application/fhir+json", "application/json"}
    enums = {"PatientStatusEnum", "PatientSexEnum", "ConditionStatusEnum", "ConsentMethodEnum"}
    assert enums <= set(schema["components"]["schemas"])


def test_a_condition_code_of_another_shape_is_refused_like_an_unknown_code(
    api, coordinator, physician
):
    # Ten characters the schema's pattern refuses: before, the model's 8-character limit
    # answered too, with a message the schema did not announce.
    data = _new(physician, coordinator, conditions=["G\u00ac\u0012\u00c1\u00ad\u0014ab\u00e7]"])
    response = api(coordinator).post(LIST, data, format="json")
    assert response.status_code == 400
    assert response.json() == {"conditions": [ICD10_UNKNOWN_MESSAGE]}
