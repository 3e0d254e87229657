"""Demo seeding hooks: an app's `demo` module may define `seed_demo(demo)` (its own rows) and
`finish_demo(demo)` (derived rows, once every app has seeded). `manage.py seed_demo` calls
them in INSTALLED_APPS order, so ccm never imports the apps it seeds (style.md §10)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

from ccm.models import Membership, Practice


@dataclass
class DemoSeed:
    practices: dict[str, Practice]  # by slug: "demo", "other"
    memberships: dict[str, Membership]  # by the user's email
    patients: int  # patients wanted in the demo practice
    months: int  # months of time entries
    extra_staff: list[Membership] = field(default_factory=list)  # big demos: more coordinators
    added: Counter[str] = field(default_factory=Counter)  # rows added, for the summary line


DemoHook = Callable[[DemoSeed], None]


def app_hooks(name: str) -> list[DemoHook]:
    """Each installed app's `demo.<name>`, in INSTALLED_APPS order."""
    hooks = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "demo"):
            hook = getattr(import_module(f"{config.name}.demo"), name, None)
            if hook is not None:
                hooks.append(hook)
    return hooks
