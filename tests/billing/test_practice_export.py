"""The practice archive (issue 19): all of one practice's data as a documented zip, built by a
worker, for practice admins only; every tenant table is in it (or on a justified skip list),
none of another practice's rows, the uploaded files with their checksums, the manifest's
counts; read in bounded chunks; requests and downloads audited; roles, outsiders, bad input,
expiry; the API's 202, status and download."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import json
import zipfile
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.exports import practice_schema, practice_services, tasks
from billing.models import PracticeArchive
from ccm.models import AuditEvent, Membership, Practice
from ccm.tenancy import practice_scope
from patients.models import Consent
from tests.factories import PatientFactory
from tests.test_url_walk import _victim_patient

PAGE = "/billing/practice-archives/"
API = "/api/v1/practice/archives/"
# Tables the happy path must find rows in (the list).
MUST_HAVE_ROWS = (
    "patients.patient", "patients.consent", "careplans.careplanversion", "timelog.timeentry",
    "timelog.task", "billing.claim", "billing.remittance", "ccm.auditevent",
)  # fmt: skip


@pytest.fixture(autouse=True)
def media(db, settings, tmp_path):
    """Stored files go to a temporary folder, not the developer's media folder. (`db` named
    here: a test reaching the database only through a client fixture's getfixturevalue, run
    alone, was found running against DATABASE_URL's own database.)"""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/no-public-url/"},
        },
    }
    return tmp_path


@pytest.fixture
def worker_here():
    """The queued build runs at once in this process, as a worker would run it."""

    def run_now(*args):
        return tasks.practice_archive_build.apply(args=args)

    with mock.patch.object(tasks.practice_archive_build, "delay", side_effect=run_now) as delay:
        yield delay


@pytest.fixture
def no_worker():
    """The queued build waits (no worker has taken it yet)."""
    with mock.patch.object(tasks.practice_archive_build, "delay") as delay:
        yield delay


def _populate(admin, form: bytes) -> dict:
    """Rows in (nearly) every table of the practice, and a signed consent form on file."""
    rows = _victim_patient(admin)
    consent = rows["consent"]
    name = default_storage.save(f"consent-forms/{admin.practice_id}/{consent.pk}.pdf",
                                ContentFile(form))  # fmt: skip
    Consent.objects.for_practice(admin.practice).filter(pk=consent.pk).update(
        signed_form=name, signed_form_type="application/pdf"
    )
    return rows


@pytest.fixture
def both(admin, outsider):
    """The practice and the other one, each with the same kinds of rows."""
    mine = _populate(admin, b"%PDF-1.4 the practice's signed form")
    theirs = _populate(outsider, b"%PDF-1.4 the other practice's form")
    return mine, theirs


def _prepare(client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(PAGE, data)


def _archive() -> PracticeArchive:
    return PracticeArchive.objects.unscoped().get()


def _zip(archive: PracticeArchive) -> zipfile.ZipFile:
    with archive.file.open("rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


def _ndjson(archive_zip, member):
    return [json.loads(line) for line in archive_zip.read(member).splitlines()]


def _tenant_ids(practice) -> dict[str, set[str]]:
    with practice_scope(practice):
        return {
            model._meta.label_lower: {
                str(pk)
                for pk in model._default_manager.for_practice(practice).values_list("pk", flat=True)
            }
            for model in practice_services.tenant_models()
        }


# --- Coverage -------------------------------------------------------------------------------


def test_every_table_with_a_practice_key_is_exported_or_skipped_with_a_reason():
    from django.apps import apps

    with_practice = {
        m._meta.label_lower
        for m in apps.get_models()
        for f in m._meta.get_fields()
        if getattr(f, "many_to_one", False) and f.related_model is Practice
    }
    exported = {m._meta.label_lower for m in practice_services.exported_models()}
    assert with_practice == exported | set(practice_services.SKIPPED_TABLES)
    assert {"patients.patient", "ccm.auditevent", "billing.claimline"} <= exported
    for reasons in (practice_services.SKIPPED_TABLES, practice_services.SKIPPED_FILES):
        assert all(why.strip() for why in reasons.values())
    for label, columns in practice_services.SKIPPED_COLUMNS.items():
        model = apps.get_model(label)
        assert all(why.strip() and model._meta.get_field(c) for c, why in columns.items())


def test_the_readme_and_schema_describe_every_file_and_field():
    tables = {t["file"]: t for t in practice_schema.schema()["tables"]}
    readme = practice_schema.readme()
    for model in practice_services.exported_models():
        member = practice_services.member_name(model)
        names = [f["name"] for f in tables[member]["fields"]]
        assert names == practice_services.column_names(model)
        assert member in readme
        assert all(f["description"] for f in tables[member]["fields"])
    assert "token_hash" not in [f["name"] for f in tables["data/ccm.apitoken.ndjson"]["fields"]]
    for member in ("manifest.json", "schema.json", "files/", "ISO 8601"):
        assert member in readme


# --- Happy path -------------------------------------------------------------------------------


def test_an_admin_prepares_the_archive_with_every_table_and_nothing_of_another_practice(
    admin_client, admin, outsider, both, worker_here, django_capture_on_commit_callbacks
):
    response = _prepare(admin_client, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == "/practice/settings/#practice-archive"
    archive = _archive()
    worker_here.assert_called_once_with(str(admin.practice_id), str(archive.pk))
    assert archive.status == "ready"
    assert archive.file.name == f"archives/{admin.practice_id}/{archive.pk}.zip"
    with archive.file.open("rb") as handle:
        body = handle.read()
    assert hashlib.sha256(body).hexdigest() == archive.sha256
    assert len(body) == archive.size
    archive_zip = zipfile.ZipFile(io.BytesIO(body))
    names = set(archive_zip.namelist())
    mine = _tenant_ids(admin.practice)
    # The build's own audit event is written once the archive is stored, after its snapshot.
    built = AuditEvent.objects.unscoped().filter(action="practice_archive.build")
    mine["ccm.auditevent"] -= {str(pk) for pk in built.values_list("pk", flat=True)}
    for model in practice_services.exported_models():
        member = practice_services.member_name(model)
        assert member in names
        ids = {str(row["id"]) for row in _ndjson(archive_zip, member)}
        label = model._meta.label_lower
        if label != "billing.practicearchive":  # the archive's own row: "running" inside
            assert ids == mine[label], label
    for label in MUST_HAVE_ROWS:
        assert mine[label], label
    # Nothing of the other practice: no id of any of its rows, no name, no file.
    theirs = _tenant_ids(outsider.practice)
    del theirs["ccm.auditevent"]  # integer ids: checked by practice below
    everything = b"".join(archive_zip.read(n) for n in names)
    for label, ids in theirs.items():
        for other_id in ids:
            assert other_id.encode() not in everything, label
    assert str(outsider.practice_id).encode() not in everything
    assert outsider.user.email.encode() not in everything
    assert b"the other practice's form" not in everything
    events = _ndjson(archive_zip, "data/ccm.auditevent.ndjson")
    assert events
    assert {e["practice_id"] for e in events} == {str(admin.practice_id)}
    users = _ndjson(archive_zip, "data/ccm.user.ndjson")
    assert admin.user.email in {u["email"] for u in users}
    assert all("password" not in u for u in users)


def test_the_manifest_counts_rows_and_checksums_every_member_and_file(
    admin_client, admin, both, worker_here, django_capture_on_commit_callbacks
):
    _prepare(admin_client, django_capture_on_commit_callbacks)
    archive = _archive()
    archive_zip = _zip(archive)
    manifest = json.loads(archive_zip.read("manifest.json"))
    assert manifest["practice"]["id"] == str(admin.practice_id)
    assert manifest["created_at"].endswith("+00:00")
    assert set(manifest["members"]) == set(archive_zip.namelist()) - {"manifest.json"}
    for name, member in manifest["members"].items():
        data = archive_zip.read(name)
        assert hashlib.sha256(data).hexdigest() == member["sha256"], name
        assert len(data) == member["bytes"]
    for name, rows in manifest["row_counts"].items():
        assert len(archive_zip.read(name).splitlines()) == rows, name
    assert archive.row_counts == manifest["row_counts"]
    consent = both[0]["consent"]
    form = f"files/patients.consent/{consent.pk}-signed_form.pdf"
    assert archive_zip.read(form) == b"%PDF-1.4 the practice's signed form"
    assert manifest["files"] == 1
    assert manifest["missing_files"] == []
    consents = _ndjson(archive_zip, "data/patients.consent.ndjson")
    assert {c["signed_form"] for c in consents if c["id"] == str(consent.pk)} == {form}
    patients = _ndjson(archive_zip, "data/patients.patient.ndjson")
    assert sorted(str(i) for i in archive.patient_ids) == sorted(p["id"] for p in patients)


def test_values_are_typed_json_with_datetimes_in_utc():
    when = dt.datetime(2026, 11, 1, 6, 30, tzinfo=timezone.get_fixed_timezone(-240))
    assert practice_services.json_value(when) == "2026-11-01T10:30:00+00:00"
    from decimal import Decimal

    assert practice_services.json_value(Decimal("66.10")) == "66.10"
    assert practice_services.json_value(b"\x00\x01") == "AAE="


def test_a_token_hash_is_never_in_the_archive(admin, both, media):
    from tests.factories import ApiTokenFactory

    token = ApiTokenFactory(membership=admin)
    archive = PracticeArchive.objects.for_practice(admin.practice).create(
        practice=admin.practice, requested_by=admin
    )
    practice_services.practice_archive_build(practice_id=admin.practice_id, archive_id=archive.pk)
    archive.refresh_from_db()
    tokens = _ndjson(_zip(archive), "data/ccm.apitoken.ndjson")
    assert [t["id"] for t in tokens] == [str(token.pk)]
    assert "token_hash" not in tokens[0]
    assert token.token_hash.encode() not in archive.file.open("rb").read()


def test_a_file_missing_from_storage_is_listed_not_fatal(admin, both, media):
    consent = both[0]["consent"]
    default_storage.delete(Consent.objects.for_practice(admin.practice).get(pk=consent.pk)
                           .signed_form.name)  # fmt: skip
    archive = PracticeArchive.objects.for_practice(admin.practice).create(
        practice=admin.practice, requested_by=admin
    )
    archive = practice_services.practice_archive_build(
        practice_id=admin.practice_id, archive_id=archive.pk
    )
    manifest = json.loads(_zip(archive).read("manifest.json"))
    assert archive.status == "ready"
    assert manifest["missing_files"] == [f"files/patients.consent/{consent.pk}-signed_form.pdf"]


# --- Streaming --------------------------------------------------------------------------------


def test_tables_are_read_in_bounded_chunks(admin, media):
    with practice_scope(admin.practice):
        PatientFactory.create_batch(10, practice=admin.practice)
    archive = PracticeArchive.objects.for_practice(admin.practice).create(
        practice=admin.practice, requested_by=admin
    )
    with (
        mock.patch.object(practice_services, "CHUNK", 3),
        CaptureQueriesContext(connection) as queries,
        io.BytesIO() as target,
    ):
        built = practice_services.write_archive(archive, target)
    assert built.row_counts["data/patients.patient.ndjson"] == 10
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    patient_reads = [s for s in selects if 'FROM "patients_patient"' in s]
    assert len(patient_reads) == 4  # 3 + 3 + 3 + 1 rows: never the whole table at once
    tenant_reads = [s for s in selects if '"practice_id" =' in s and "ORDER BY" in s]
    assert tenant_reads
    assert all(s.endswith("LIMIT 3") for s in tenant_reads)
    # One query per table (plus one per file field) when every table fits in a chunk.
    tables = len(practice_services.exported_models())
    assert len(selects) <= tables + 10 // 3 + 10


# --- Audit ------------------------------------------------------------------------------------


def test_the_request_and_the_download_are_audited_with_every_patient(
    admin_client, admin, both, worker_here, django_capture_on_commit_callbacks
):
    with practice_scope(admin.practice):
        PatientFactory.create_batch(4, practice=admin.practice)
    _prepare(admin_client, django_capture_on_commit_callbacks)
    archive = _archive()
    built = AuditEvent.objects.unscoped().get(action="practice_archive.build")
    assert (built.actor_id, built.object_id) == (admin.user_id, str(archive.pk))
    requested = AuditEvent.objects.unscoped().get(action="practice_archive.request")
    assert (requested.actor_id, requested.object_id) == (admin.user_id, str(archive.pk))
    assert requested.ip == "127.0.0.1"
    assert requested.practice_id == admin.practice_id
    with mock.patch.object(practice_services, "AUDIT_BATCH", 2):
        response = admin_client.get(f"{PAGE}{archive.pk}/download")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    downloaded = AuditEvent.objects.unscoped().get(action="practice_archive.download")
    assert downloaded.actor_id == admin.user_id
    assert downloaded.ip == "127.0.0.1"
    exported = AuditEvent.objects.unscoped().filter(action="patient.export")
    assert exported.count() == 3  # 5 patients, 2 to an event
    named = {str(p) for e in exported for p in (e.patient_ids or [e.patient_id])}
    assert named == {str(p) for p in archive.patient_ids}
    assert len(named) == 5


# --- Roles, outsiders, bad input --------------------------------------------------------------


@pytest.fixture
def ready(admin, media):
    archive = PracticeArchive.objects.for_practice(admin.practice).create(
        practice=admin.practice, requested_by=admin
    )
    return practice_services.practice_archive_build(
        practice_id=admin.practice_id, archive_id=archive.pk
    )


@pytest.mark.parametrize("member", ["physician_client", "coordinator_client", "biller_client"])
def test_other_roles_get_403_everywhere(request, member, ready, no_worker):
    client = request.getfixturevalue(member)
    for method, url in [
        ("get", PAGE), ("post", PAGE), ("get", f"{PAGE}{ready.pk}/"),
        ("get", f"{PAGE}{ready.pk}/download"), ("get", API), ("post", API),
        ("get", f"{API}{ready.pk}/"), ("get", f"{API}{ready.pk}/download"),
    ]:  # fmt: skip
        assert getattr(client, method)(url).status_code == 403, (method, url)
    assert PracticeArchive.objects.unscoped().count() == 1
    refused = ("practice_archive.request", "practice_archive.download", "patient.export")
    assert not AuditEvent.objects.unscoped().filter(action__in=refused)


def test_the_outsider_gets_404_for_another_practices_archive(outsider_client, ready):
    for url in (f"{PAGE}{ready.pk}/", f"{PAGE}{ready.pk}/download", f"{API}{ready.pk}/",
                f"{API}{ready.pk}/download"):  # fmt: skip
        assert outsider_client.get(url).status_code == 404, url
    assert not AuditEvent.objects.unscoped().filter(action="practice_archive.download")


def test_the_outsiders_list_shows_none_of_the_practices_archives(outsider_client, ready):
    assert outsider_client.get(API).json()["count"] == 0
    assert str(ready.pk) not in outsider_client.get(PAGE).content.decode()


@pytest.mark.parametrize("body", [{"format": "csv"}, {"format": ""}, {"kind": "ndjson"}])
def test_an_unknown_format_is_a_clear_400_and_saves_nothing(admin_client, no_worker, body):
    response = admin_client.post(API, body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == set(body)
    page = admin_client.post(PAGE, {"format": "csv"})
    assert page.status_code == 400
    assert practice_services.FORMAT_MESSAGE in html.unescape(page.content.decode())
    assert PracticeArchive.objects.unscoped().count() == 0
    assert not AuditEvent.objects.unscoped().filter(action="practice_archive.request")
    no_worker.assert_not_called()


@pytest.mark.parametrize("raw", ["null", '""', "[]", "3"])
def test_a_body_that_is_not_an_object_is_a_400_and_saves_nothing(admin_client, no_worker, raw):
    """Not read as "no fields": schemathesis's negative phase sent `null` and got a 202."""
    response = admin_client.post(API, raw, content_type="application/json")
    assert response.status_code == 400
    assert PracticeArchive.objects.unscoped().count() == 0
    no_worker.assert_not_called()


def test_a_request_without_a_body_asks_for_the_default_format(admin_client, no_worker):
    response = admin_client.post(API, content_type="application/json")
    assert response.status_code == 202
    assert PracticeArchive.objects.unscoped().count() == 1


def test_gets_change_nothing(admin_client, ready):
    before = AuditEvent.objects.unscoped().count()
    for url in (PAGE, f"{PAGE}{ready.pk}/", API, f"{API}{ready.pk}/"):
        assert admin_client.get(url).status_code == 200, url
    assert PracticeArchive.objects.unscoped().count() == 1
    assert AuditEvent.objects.unscoped().count() == before


def test_asking_again_while_one_is_prepared_returns_it(
    admin_client, no_worker, django_capture_on_commit_callbacks
):
    _prepare(admin_client, django_capture_on_commit_callbacks)
    _prepare(admin_client, django_capture_on_commit_callbacks)
    assert PracticeArchive.objects.unscoped().count() == 1
    assert no_worker.call_count == 1
    page = admin_client.get(PAGE, headers={"HX-Request": "true"})
    assert "waiting for a worker" in page.content.decode()
    pending = _archive()
    download = admin_client.get(f"{PAGE}{pending.pk}/download")
    assert download.status_code == 302  # not ready: back to the settings, with the message
    assert admin_client.get(f"{API}{pending.pk}/download").status_code == 409


def test_a_failed_build_is_marked_failed_without_phi(admin, media):
    archive = PracticeArchive.objects.for_practice(admin.practice).create(
        practice=admin.practice, requested_by=admin
    )
    with (
        mock.patch.object(practice_services, "write_archive", side_effect=RuntimeError("x")),
        pytest.raises(RuntimeError),
    ):
        practice_services.practice_archive_build(
            practice_id=admin.practice_id, archive_id=archive.pk
        )
    archive.refresh_from_db()
    assert (archive.status, archive.error) == ("failed", practice_services.FAILED_MESSAGE)


# --- Expiry -----------------------------------------------------------------------------------


def _expire(archive):
    # (Travelling 7 days ahead would sign the client out: the inactivity timeout.)
    PracticeArchive.objects.for_practice(archive.practice_id).filter(pk=archive.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )


def test_an_archive_expires_and_its_file_is_deleted(admin_client, admin, ready, media, no_worker):
    stored = media / ready.file.name
    assert stored.exists()
    assert ready.expires_at - ready.finished_at == dt.timedelta(days=practice_services.ARCHIVE_DAYS)
    _expire(ready)
    response = admin_client.get(f"{API}{ready.pk}/download")
    assert response.status_code == 409
    assert response.json()["detail"] == practice_services.EXPIRED_MESSAGE
    assert stored.exists()  # a GET deletes nothing: the purge does
    assert practice_services.practice_archives_purge_all() == 1
    assert not stored.exists()
    ready.refresh_from_db()
    assert ready.file.name == ""
    assert ready.status == "ready"
    assert "Expired" in admin_client.get(PAGE).content.decode()
    assert not AuditEvent.objects.unscoped().filter(action="practice_archive.download")


def test_a_new_request_purges_the_expired_ones(admin_client, ready, media, no_worker):
    _expire(ready)
    admin_client.post(API, {}, content_type="application/json")
    assert not (media / ready.file.name).exists()


# --- API --------------------------------------------------------------------------------------


def test_the_api_answers_202_then_status_then_the_zip(
    admin_client, admin, both, worker_here, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(API, {}, content_type="application/json")
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["status_url"] == f"{API}{body['id']}/"
    status = admin_client.get(body["status_url"]).json()
    assert status["status"] == "ready"
    assert status["row_counts"]["data/patients.patient.ndjson"]
    assert status["expires_at"].endswith(("Z", "+00:00"))
    download = admin_client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith(
        f'attachment; filename="caremonth-{admin.practice.slug}-archive-'
    )
    data = b"".join(download.streaming_content)
    assert hashlib.sha256(data).hexdigest() == status["sha256"]
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    listed = admin_client.get(API).json()
    assert [a["id"] for a in listed["results"]] == [body["id"]]


def test_the_settings_page_offers_the_archive_to_admins_only(admin_client, biller, admin, practice):
    page = admin_client.get("/practice/settings/").content.decode()
    assert 'id="practice-archive"' in page
    assert PAGE in page
    with practice_scope(practice):
        Membership.objects.for_practice(practice).filter(pk=admin.pk).update(role="biller")
    assert admin_client.get("/practice/settings/").status_code == 403
