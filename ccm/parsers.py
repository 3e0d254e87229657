"""The API's JSON parser: DRF's, with a bound on nesting.

Python's json module recurses once per nesting level, so a body nested a few thousand levels
deep raises RecursionError (a 500), and a body just under the interpreter's limit gets through
only to exhaust the stack later (serializers, JSONField, audit). No request of this API nests
more than a handful of levels; anything deeper than MAX_DEPTH is refused with a 400 before
json is called.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64
TOO_DEEP_MESSAGE = f"JSON parse error - nested deeper than {MAX_DEPTH} levels."
# Strings (skipped whole, escapes included) and the brackets that open or close a level.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")


def nesting_depth(raw: bytes, limit: int = MAX_DEPTH) -> int:
    """Deepest array/object nesting of a JSON text, counted without parsing; stops counting
    once past `limit`. Brackets inside strings do not count."""
    depth = deepest = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token[0] in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif token[0] != ord('"'):
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    """JSON bodies nested at most MAX_DEPTH levels; deeper ones are a 400, never a 500."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # The whole body (Django already caps it at DATA_UPLOAD_MAX_MEMORY_SIZE), checked
        # before json recurses into it, then parsed by DRF as usual.
        raw = stream.read() if stream is not None else b""
        if nesting_depth(raw) > MAX_DEPTH:
            raise ParseError(TOO_DEEP_MESSAGE)
        return super().parse(io.BytesIO(raw), media_type, parser_context)
