"""No secrets or PHI in logs (issue 14, point 4).

Production (DEBUG=0) never prints mail: without EMAIL_URL every process refuses to start with
the system check ccm.E001. Logged URLs carry no query string (searches put names and MRNs
there) and no password-reset key. The walk-through runs the real processes (gunicorn with the
production config and access log, a Celery worker, runserver) as subprocesses and greps
everything they wrote, and the Celery messages in Redis, for a seeded name, MRN and note.
"""

import base64
import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import checks
from django.test import Client, override_settings

from ccm.checks import email_check
from ccm.log_filters import RESET_KEY_REDACTED, redact
from ccm.models import Role
from patients.models import Status
from tests.factories import (
    ConditionFactory,
    ConsentFactory,
    MembershipFactory,
    PatientFactory,
    enroll_totp,
)
from tests.helpers import database_url, wait_for

NAME = "Zyxwvut"
MRN = "MRN-PHI-77123"
NOTE = "phi-note-qq91"
RESET_KEY_PATH = "/accounts/password/reset/key/"
NEEDLES = (NAME, MRN, NOTE, RESET_KEY_PATH)
WAIT = 60  # seconds for a process to start or a mail to arrive on a busy 2-core machine
CONSOLE = "django.core.mail.backends.console.EmailBackend"


# --- The system check ---------------------------------------------------------------------


@override_settings(DEBUG=False, EMAIL_URL="", EMAIL_BACKEND=CONSOLE)
def test_production_without_email_url_is_an_error():
    [error] = email_check(None)
    assert error.id == "ccm.E001"
    assert error.level == checks.ERROR
    assert "EMAIL_URL" in error.msg


@override_settings(DEBUG=False, EMAIL_URL="consolemail://", EMAIL_BACKEND=CONSOLE)
def test_production_that_prints_mail_is_an_error():
    [error] = email_check(None)
    assert error.id == "ccm.E002"


@override_settings(DEBUG=True, EMAIL_URL="", EMAIL_BACKEND=CONSOLE)
def test_debug_may_print_mail():
    assert email_check(None) == []


@override_settings(
    DEBUG=False,
    EMAIL_URL="smtp+tls://u:p@smtp.example.org:587",
    EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
)
def test_production_with_a_mail_server_passes():
    assert email_check(None) == []


def _env(**changes):
    """The test process's environment (DATABASE_URL, REDIS_URL) with `changes`; None deletes."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ccm.settings", "PYTHONUNBUFFERED": "1"}
    env.setdefault("SECRET_KEY", "phi-test-" + "k" * 50)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _email_backend(**changes):
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=_env(**changes),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_console_backend_only_with_debug():
    assert _email_backend(DEBUG="1", EMAIL_URL=None) == CONSOLE
    assert _email_backend(DEBUG="0", EMAIL_URL=None) != CONSOLE


@pytest.mark.parametrize(
    "command",
    [
        ["manage.py", "check"],
        ["manage.py", "check", "--deploy"],
        ["-m", "gunicorn", "ccm.wsgi:application", "--config", "python:ccm.gunicorn_conf",
         "--bind", "127.0.0.1:0", "--workers", "1"],
        ["-m", "celery", "-A", "ccm", "worker", "--pool=solo", "-Q", "phi-refused"],
        # The file scheduler: django-celery-beat's reads the database before beat_init.
        ["-m", "celery", "-A", "ccm", "beat", "--scheduler", "celery.beat:PersistentScheduler",
         "--schedule", "{tmp}/beat-schedule"],
    ],
    ids=["check", "check-deploy", "gunicorn", "celery-worker", "celery-beat"],
)  # fmt: skip
def test_production_without_email_url_refuses_to_start(command, tmp_path):
    result = subprocess.run(
        [sys.executable, *(part.format(tmp=tmp_path) for part in command)],
        cwd=settings.BASE_DIR,
        env=_env(DEBUG="0", EMAIL_URL=None),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode != 0, result.stdout + result.stderr
    assert "ccm.E001" in result.stderr


# --- The log filter -----------------------------------------------------------------------


def test_log_filter_strips_query_strings_and_reset_keys():
    line = '"GET /patients/?q=Zyxwvut HTTP/1.1" 200 /accounts/password/reset/key/3-abc-def/ x?'
    assert redact(line) == (
        '"GET /patients/ HTTP/1.1" 200 /accounts/password/reset/key-redacted/ x?'
    )


# --- Walk-throughs against the real processes ---------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Subprocesses whose stdout and stderr go to files in one folder; stopped at teardown."""

    def __init__(self, folder):
        self.folder, self.procs = Path(folder), []

    def start(self, name, command, env):
        out = (self.folder / f"{name}.stdout.log").open("wb")
        err = (self.folder / f"{name}.stderr.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *command], cwd=settings.BASE_DIR, env=env, stdout=out, stderr=err
        )
        self.procs.append((proc, out, err))
        return proc

    def stop(self):
        for proc, _, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, out, err in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out.close()
            err.close()

    def logs(self):
        return {p.name: p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log"))}

    def tail(self):
        return "\n".join(f"== {name}\n{text[-2500:]}" for name, text in self.logs().items())


@pytest.fixture
def processes():
    with tempfile.TemporaryDirectory() as folder:
        pool = Processes(folder)
        try:
            yield pool
        finally:
            pool.stop()


class Browser:
    """Plain HTTP against a server: session and CSRF cookies, a Referer as a browser sends it."""

    def __init__(self, base, session_key=""):
        self.base, self.csrf = base, secrets.token_hex(16)  # 32 characters, a valid secret
        self.cookies = {"csrftoken": self.csrf}
        if session_key:
            self.cookies[settings.SESSION_COOKIE_NAME] = session_key
        self.referer = ""
        opener = urllib.request.build_opener(_NoRedirect)
        self.opener = opener

    def request(self, path, data=None, headers=None):
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "X-CSRFToken": self.csrf,
            "User-Agent": "phi-walk-through",
            **({"Referer": self.base + self.referer} if self.referer else {}),
            **(headers or {}),
        }
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers)  # noqa: S310
        try:
            response = self.opener.open(req, timeout=WAIT)
        except urllib.error.HTTPError as exc:
            response = exc
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        self.referer = path
        text = response.read().decode(errors="replace")
        return response.status, response.headers.get("Location", ""), text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _wait_until(what, check, processes):
    return wait_for(
        what, check, within=WAIT, every=0.2, log=lambda: f"process output:\n{processes.tail()}"
    )


def _answers(url):
    try:
        urllib.request.urlopen(url, timeout=2).close()  # noqa: S310
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def _celery_messages():
    """Every message waiting in the default queue or unacked in our Redis db, decoded."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    raw = list(client.lrange("celery", 0, -1))
    raw += [json.dumps(json.loads(v)[0]) for v in client.hvals("unacked")]  # [message, ...]
    client.close()
    texts = []
    for item in raw:
        message = json.loads(item)
        body = message.get("body", "")
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body).decode(errors="replace")
        texts.append(json.dumps(message) + "\n" + body)
    return texts


def _hits(texts, needles):
    return {n: sum(t.count(n) for t in texts) for n in needles if any(n in t for t in texts)}


def _links(mail_dir):
    text = "\n".join(p.read_text(errors="replace") for p in Path(mail_dir).glob("*"))
    return re.findall(r"https?://\S+/accounts/password/reset/key/\S+/", text)


@pytest.fixture
def cast(transactional_db):
    """A practice's admin (MFA enrolled) signed in, and a patient with the unique name and MRN."""
    admin = MembershipFactory(role=Role.ADMIN, user__email="phi.admin@walk.test")
    enroll_totp(admin.user)
    physician = MembershipFactory(practice=admin.practice, role=Role.PHYSICIAN)
    today = dt.datetime.now(ZoneInfo(admin.practice.time_zone)).date()
    patient = PatientFactory(
        practice=admin.practice,
        first_name=NAME,
        last_name="Qx",
        mrn=MRN,
        status=Status.ENROLLED,
        status_on=today - dt.timedelta(days=40),
        billing_practitioner=physician,
        initiating_visit_on=today - dt.timedelta(days=50),
        initiating_visit_code="99214",
        # Added to CareMonth long ago: the walk logs time two hours back, which is yesterday
        # between midnight and 2 a.m. in the practice's zone (before a patient added today).
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=60),
    )
    ConditionFactory(patient=patient, icd10_code="E11.9", position=0)
    ConditionFactory(patient=patient, icd10_code="I10", description="Hypertension", position=1)
    ConsentFactory(patient=patient, obtained_by=physician, given_on=today - dt.timedelta(days=40))
    client = Client()
    client.force_login(admin.user)
    return admin, patient, client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.celery_worker
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real broker)")
def test_walk_through_leaves_no_phi_or_reset_keys_in_logs_or_messages(cast, processes):
    admin, patient, session_key = cast
    mail_dir = processes.folder / "mail"
    mail_dir.mkdir()
    port = _free_port()
    env = _env(
        DEBUG="0",
        DATABASE_URL=database_url(),
        EMAIL_URL=f"filemail:///{mail_dir}",  # filemail:////abs/path
        SITE_URL=f"http://127.0.0.1:{port}",
        SECURE_SSL_REDIRECT="0",
        LOG_LEVEL="DEBUG",
    )
    # The production command (Dockerfile), its access log on stdout as there.
    processes.start(
        "gunicorn",
        ["-m", "gunicorn", "ccm.wsgi:application", "--config", "python:ccm.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait_until("gunicorn", lambda: _answers(base + "/healthz"), processes)

    user = Browser(base, session_key)
    status, _, page = user.request(f"/patients/?q={NAME}")
    assert status == 200, processes.tail()
    assert MRN in page
    assert user.request(f"/patients/?q={MRN}")[0] == 200
    status, _, body = user.request(f"/api/v1/patients/?search={NAME}")
    assert status == 200, body
    assert MRN in body
    assert user.request(f"/api/v1/patients/?search={MRN}")[0] == 200
    user.referer = f"/patients/?q={NAME}"  # the chart is opened from the search results
    status, _, chart = user.request(f"/patients/{patient.pk}/")
    assert status == 200
    assert NAME in chart
    local_now = dt.datetime.now(ZoneInfo(admin.practice.time_zone))
    started = (local_now - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    status, _, _ = user.request(
        f"/patients/{patient.pk}/time/new/",
        {"started_at": started, "minutes": "12", "activity": "call_patient", "note": NOTE},
    )
    assert status == 302, processes.tail()
    status, _, chart = user.request(f"/patients/{patient.pk}/")
    assert NOTE in chart
    status, _, _ = user.request(
        "/practice/members/",
        {"email": "phi.invitee@walk.test", "full_name": f"{NAME} Invitee", "role": "coordinator"},
    )
    assert status == 302, processes.tail()

    anonymous = Browser(base)
    anonymous.request("/accounts/password/reset/")
    status, _, _ = anonymous.request("/accounts/password/reset/", {"email": admin.user.email})
    assert status == 302, processes.tail()

    # The queued invitation, as it sits in Redis before a worker takes it.
    messages = _celery_messages()
    assert any("member_invitation_send" in m for m in messages)

    processes.start(
        "celery-worker",
        ["-m", "celery", "-A", "ccm", "worker", "--pool=solo", "--loglevel=DEBUG",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env,
    )  # fmt: skip
    links = _wait_until("both emails", lambda: len(_links(mail_dir)) >= 2 and _links(mail_dir),
                        processes)  # fmt: skip
    # Follow both links as their recipients would: the key is in the path.
    for link in links:
        path = link.removeprefix(base)
        visitor = Browser(base)
        status, location, _ = visitor.request(path)
        assert status == 302
        assert "set-password" in location
        new = "Correct-horse-battery-9"
        status, _, _ = visitor.request(location, {"password1": new, "password2": new})
        assert status == 302, processes.tail()
    processes.stop()

    logs = processes.logs()
    # The access log is there, and logged the reset links' visits without their keys.
    assert "GET /patients/ HTTP/1.1" in logs["gunicorn.stdout.log"]
    assert RESET_KEY_REDACTED in logs["gunicorn.stdout.log"]
    assert "member_invitation_send" in logs["celery-worker.stderr.log"]
    keys = [link.rstrip("/").rsplit("/", 1)[1] for link in links]
    log_hits = _hits(logs.values(), (*NEEDLES, *keys))
    message_hits = _hits(messages, (*NEEDLES, *keys))
    print(f"PHI/secret hits: logs {log_hits}, Celery messages {message_hits}")
    assert log_hits == {}, processes.tail()
    assert message_hits == {}


@pytest.mark.django_db(transaction=True)
def test_runserver_logs_no_query_strings_or_reset_keys(processes):
    port = _free_port()
    env = _env(DEBUG="1", DATABASE_URL=database_url(), EMAIL_URL=None)
    processes.start("runserver", ["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], env)
    base = f"http://127.0.0.1:{port}"
    _wait_until("runserver", lambda: _answers(base + "/healthz"), processes)
    browser = Browser(base)
    for path in (
        f"/patients/?q={NAME}",
        f"/api/v1/patients/?search={MRN}",
        f"/nowhere/?q={NAME}",
        f"{RESET_KEY_PATH}3-abcdef-0123456789abcdef/?note={NOTE}",
    ):
        browser.request(path)
    processes.stop()
    log = processes.logs()["runserver.stderr.log"]
    assert '"GET /patients/ HTTP/1.1" 302' in log, log
    assert "Not Found: /nowhere/" in log, log
    assert _hits([log], NEEDLES) == {}, log
