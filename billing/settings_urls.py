"""Routes (filled by the module's views)."""

from typing import Any

urlpatterns: list[Any] = []
