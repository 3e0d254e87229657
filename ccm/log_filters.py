"""Keep PHI and secrets out of log lines: no query strings, no password-reset keys.

Searches are GET query strings (`/patients/?q=<name>`, `/api/v1/patients/?search=<MRN>`), and
invitation and password-reset links carry a sign-in key in their path. Every log handler of
the app (settings.LOGGING), gunicorn (ccm.gunicorn_conf) and Celery (ccm.celery) runs each
record through `RedactUrls`, which rewrites the formatted message and traceback.
"""

import logging
import re
from typing import Any

# A URL path (starts with "/") followed by "?query": keep the path, drop the query.
_QUERY = re.compile(r"(/[^\s?\"'<>]*)\?[^\s\"'<>]+")
# allauth's reset links: /accounts/password/reset/key/<uidb36>-<key>/ and its set-password page.
_RESET_KEY = re.compile(r"/password/reset/key/[^\s\"'<>?]*")
RESET_KEY_REDACTED = "/password/reset/key-redacted/"


def redact(text: str) -> str:
    """`text` with query strings removed from URL paths and reset keys replaced."""
    return _QUERY.sub(r"\1", _RESET_KEY.sub(RESET_KEY_REDACTED, text))


_PLAIN = (int, float, bool, type(None))


def redact_event(logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every value of a structured line through `redact`; a value that
    is not a string or a number becomes its text first (a request's repr holds its URL)."""
    return {
        k: v if isinstance(v, _PLAIN) else redact(v if isinstance(v, str) else str(v))
        for k, v in event_dict.items()
    }


class RedactUrls(logging.Filter):
    """Rewrite a record's message (and traceback) through `redact`; never drops a record.

    A structlog line (its message is the event dict) keeps its shape: its string values are
    rewritten, and the formatter's `redact_event` covers what is added while rendering."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            record.msg = redact_event(None, "", record.msg)
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed call: logging reports it when the handler formats it
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
