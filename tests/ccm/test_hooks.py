"""Registration instead of upward imports (style.md §10): ccm/hooks.py and ccm/demo.py."""

from __future__ import annotations

from billing import demo as billing_demo
from billing import panels as billing_panels
from careplans import demo as careplans_demo
from careplans import panels as careplans_panels
from careplans import transition_panels
from careplans.hooks import transition_recorded
from ccm.demo import app_hooks
from ccm.hooks import Hooks, home_panels
from patients import demo as patients_demo
from patients import panels as patients_panels
from patients.hooks import chart_panels, cost_share, fhir_sections
from timelog import demo as timelog_demo
from timelog import transition_tasks


def test_hooks_keep_registration_order_and_one_of_each() -> None:
    hooks: Hooks = Hooks("example")

    def first() -> None: ...

    def second() -> None: ...

    for fn in (first, second, first):
        hooks.register(fn)
    assert list(hooks) == [first, second]


def test_the_apps_register_their_panels_at_startup() -> None:
    assert patients_panels.census in list(home_panels)
    assert list(chart_panels) == [
        patients_panels.coverage_panel,
        transition_tasks.transition_tasks_panel,
        careplans_panels.care_plan_panel,
        transition_panels.transition_panel,
        billing_panels.time_panel,
    ]
    assert billing_panels.dashboard_panel in list(home_panels)
    assert list(fhir_sections) == [
        careplans_panels.care_plan_section,
        transition_panels.transition_section,
    ]
    assert list(transition_recorded) == [transition_tasks.transition_follow_up]
    assert list(cost_share) == [billing_panels.consent_cost_share]


def test_demo_hooks_are_found_in_installed_apps_order() -> None:
    assert app_hooks("seed_demo") == [
        patients_demo.seed_demo,
        timelog_demo.seed_demo,
        careplans_demo.seed_demo,
        billing_demo.seed_demo,  # the progress rows, after every app's engine inputs
    ]
    assert app_hooks("finish_demo") == [timelog_demo.finish_demo, billing_demo.finish_demo]
