"""What higher apps may add to patients' chart page and FHIR bundle (ccm/hooks.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.resource import Resource

from ccm.hooks import Hooks
from ccm.tenancy import PracticeRequest
from patients.models import Condition, Patient

# A chart panel returns its part of the chart page's context; `extra` is what the view was
# given (a panel pops the form it owns, e.g. a bound form with errors).
ChartPanel = Callable[[PracticeRequest, Patient, dict[str, Any]], dict[str, Any]]
chart_panels: Hooks[ChartPanel] = Hooks("patient chart panels")

# A bundle section returns the FHIR resources it adds for the patient (given the conditions
# already in the bundle, which its resources may reference).
BundleSection = Callable[[Patient, list[Condition]], list[Resource]]
fhir_sections: Hooks[BundleSection] = Hooks("patient FHIR bundle sections")
