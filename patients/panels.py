"""What patients adds to ccm's home page (registered on import; see PatientsConfig.ready)."""

from __future__ import annotations

from typing import Any

from ccm.hooks import home_panels
from ccm.tenancy import PracticeRequest
from patients.selectors import status_counts


@home_panels.register
def census(request: PracticeRequest) -> dict[str, Any]:
    return {"census": status_counts(practice=request.practice)}
