"""A real HTTP load for the benchmark scripts: gunicorn with 2 workers on a free port against
the bench database (DATABASE_URL), signed-in users, and N concurrent users for a bounded time.

Production settings (DEBUG=0, the gunicorn config of the Dockerfile) apart from plain http:
SECURE_SSL_REDIRECT=0, and the session cookie (Secure under DEBUG=0) is sent by hand. Each
user is a thread with its own keep-alive connection (`http.client`: the lightest client, so
the driver's own CPU, on the same cores as the server, stays small next to the server's).
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import _setup
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client

WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(workers: int = WORKERS, app: str = "ccm.wsgi:application") -> Iterator[int]:
    """gunicorn serving ccm.wsgi (or `app`) on a free port (as the Dockerfile runs it); its
    port."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "EMAIL_URL": os.environ.get("EMAIL_URL", "dummymail://"),
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--config",
        "python:ccm.gunicorn_conf",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        "/dev/null",
        "--timeout",
        "60",
    ]
    process = subprocess.Popen(
        command, cwd=_setup.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its cookies, and the CSRF header its POSTs carry."""

    cookie: str
    csrf: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Cookie": self.cookie, "X-CSRFToken": self.csrf, **extra}


def sign_in(user: Any) -> Session:
    """A session of `user` in the database, as a sign-in makes (the server reads it there)."""
    client = Client()
    client.force_login(user)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.session[SESSION_KEY] == str(user.pk)
    csrf = secrets.token_hex(16)  # a 32-character secret: Django accepts it as the cookie
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={csrf}"
    return Session(cookie=cookie, csrf=csrf)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    ok: tuple[int, ...] = (200,)


@dataclass
class Result:
    times: list[float]  # milliseconds
    seconds: float
    errors: int

    @property
    def p50(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def p95(self) -> float:
        return _setup.percentile(self.times, 0.95) if self.times else float("nan")

    @property
    def rps(self) -> float:
        return len(self.times) / self.seconds


def drive(
    port: int,
    requests_of: list[Callable[[int], Request]],
    *,
    seconds: float = 5.0,
    warmup: int = 2,
) -> Result:
    """Each of len(requests_of) users sends requests_of[user](n) for n = 0, 1, … back to back
    over its own keep-alive connection for `seconds` (after `warmup` untimed requests each).
    An answer with an unexpected status counts as an error (and is not timed)."""
    users = len(requests_of)
    times: list[list[float]] = [[] for _ in range(users)]
    errors = [0] * users
    ready = threading.Barrier(users + 1)
    stop = threading.Event()

    def user(u: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = 0

        def one(timed: bool) -> None:
            nonlocal n
            request = requests_of[u](n)
            n += 1
            start = time.perf_counter()
            conn.request(request.method, request.path, body=request.body, headers=request.headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            if response.status not in request.ok:
                errors[u] += 1
                if errors[u] == 1:
                    print(f"  ! {request.method} {request.path}: {response.status}", flush=True)
            elif timed:
                times[u].append(elapsed)

        for _ in range(warmup):
            one(False)
        ready.wait()
        while not stop.is_set():
            one(True)
        conn.close()

    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start  # includes the last requests in flight
    return Result(times=[t for ts in times for t in ts], seconds=elapsed, errors=sum(errors))


def get(path: str, session: Session | None, **headers: str) -> Callable[[int], Request]:
    base = session.headers(**headers) if session else headers
    return lambda n: Request("GET", path, base)


def time_in_process(
    one: Callable[[str], None], names: list[str], runs: int, n: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per run and name: wall and this process's CPU milliseconds per request of `one(name)`
    over `n` requests (CPU is steadier on a shared machine: it leaves out PostgreSQL's time
    and waiting for a core). Each name is warmed up first (connections, templates, url
    resolvers)."""
    for name in names:
        for _ in range(3):
            one(name)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                one(name)
            wall[name].append((time.perf_counter() - start) * 1000 / n)
            cpu[name].append((time.process_time() - start_cpu) * 1000 / n)
    return wall, cpu
