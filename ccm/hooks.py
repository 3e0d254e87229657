"""Hooks: how a lower app lets higher apps add to its pages and documents (style.md §10).

The lower app owns a `Hooks` and calls what was registered; a higher app registers in a module
that its AppConfig.ready() imports. So a lower app never imports a higher one, and the call
order is INSTALLED_APPS order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet

from ccm.models import Practice
from ccm.tenancy import PracticeRequest

F = TypeVar("F", bound=Callable[..., Any])


class Hooks(Generic[F]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._registered: list[F] = []

    def register(self, fn: F) -> F:
        """Use as a decorator; registering the same function twice keeps one."""
        if fn not in self._registered:
            self._registered.append(fn)
        return fn

    def __iter__(self) -> Iterator[F]:
        return iter(tuple(self._registered))


# The home page's panels: each returns template context for this request ({} to add nothing).
home_panels: Hooks[Callable[[PracticeRequest], dict[str, Any]]] = Hooks("home panels")

# The audit log's patients (registered by patients): `PatientNames` gives a display name for
# each of the practice's patients among the ids (others are left out), `PatientSearch` a
# queryset of the ids of the practice's patients matching a name or MRN text.
PatientNames = Callable[[Practice, Collection[uuid.UUID]], dict[uuid.UUID, str]]
PatientSearch = Callable[[Practice, str], QuerySet[Any]]
audit_patient_names: Hooks[PatientNames] = Hooks("audit log patient names")
audit_patient_search: Hooks[PatientSearch] = Hooks("audit log patient search")
