"""gunicorn settings for production: `--config python:ccm.gunicorn_conf` (Dockerfile, Compose).

Bind address and worker count stay on the command line. This file keeps PHI and secrets out
of gunicorn's logs and refuses to start on a failing system check (e.g. ccm.E001, no EMAIL_URL).
"""

from typing import Any

from gunicorn.glogging import Logger

from ccm import metrics  # before the app: names each worker's metric files (ccm/metrics.py)
from ccm.log_filters import RedactUrls, redact

# On stdout, as the container's log. The path without its query string (%(U)s, not the
# request line %(r)s or %(q)s: searches carry names and MRNs), no Referer (%(f)s, the previous
# page's URL, query included): address, user, time, method, path, protocol, status, bytes, ms.
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


class RedactingLogger(Logger):
    """gunicorn's logger whose atoms and lines (access and error log) pass ccm.log_filters:
    the path loses reset keys, and any format a deployment sets loses query strings."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactUrls())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["q"] = "-"
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}


logger_class = RedactingLogger

# A request may take at most 30 s (gunicorn's default, now explicit; the Dockerfile and
# Compose say it on the command line too): nothing long runs in a request any more (issue 18:
# the month PDF and large CSV/837 exports are built by a Celery worker), so a worker silent
# for longer is stuck and is restarted. The graceful stop waits as long for requests in flight.
timeout = 30
graceful_timeout = 30


def on_starting(server: Any) -> None:
    """Before binding: the system checks, as runserver runs them; an error stops gunicorn."""
    from ccm.checks import refuse_to_start_on_errors

    refuse_to_start_on_errors()


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges leave /metrics (prometheus_client multiprocess mode)."""
    metrics.process_dead(worker.pid)
