"""What higher apps may add to patients' chart page and FHIR bundle (ccm/hooks.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.resource import Resource

from ccm.hooks import Hooks
from ccm.models import Practice
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


@dataclass(frozen=True)
class CostShare:
    """The patient's estimated monthly cost share for CCM, as the consent script explains it
    (what billing knows: the code the patient usually reaches, its amount, the coverage)."""

    code: str  # the CCM code the estimate is for
    amount: Decimal  # the practice's amount for that code
    estimate: Decimal | None  # what the patient may owe a month; None: coverage not recorded
    headline: str  # one sentence for the coordinator to read out
    why: tuple[str, ...]  # the reasons behind the figure, and the deductible note


# The consent page asks these for the patient's cost share in a month (the first answer that
# is not None is shown); billing registers one (billing/panels.py).
CostShareEstimate = Callable[[Practice, Patient, dt.date], CostShare | None]
cost_share: Hooks[CostShareEstimate] = Hooks("patient CCM cost share")
