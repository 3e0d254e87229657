"""The coordinator's day in a real browser: worklist, timer across pages, log time, tasks."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import main_nav
from timelog.models import RunningTimer, Task, TimeEntry


def test_coordinator_times_a_call_from_the_worklist_and_logs_it(
    coordinator_page: Page, live_server, shot, csp_violations
):
    page, base = coordinator_page, live_server.url
    expect(page.get_by_role("heading", level=1)).to_contain_text("Worklist")
    rows = page.locator("#worklist tbody tr")
    expect(rows.first).to_be_visible()
    shot(page, "worklist")

    # htmx filter: below 20 minutes, without a full reload.
    page.get_by_label("Show").select_option("below")
    expect(page).to_have_url(re.compile(r"show=below"))
    expect(page.locator("#worklist")).to_contain_text("min to 99490")

    # One click starts the timer; it follows the coordinator to other pages and tabs.
    first = rows.first.locator("a").first
    name = first.inner_text()
    staff_before = int(rows.first.locator("td").nth(1).inner_text())
    bar_before = int(rows.first.locator("progress").get_attribute("value") or "0")
    rows.first.get_by_role("button", name=re.compile("Start timer")).click()
    expect(page.locator(".timerbar")).to_contain_text("Timer running for")
    main_nav(page, "Patients")
    expect(page.locator(".timerbar")).to_be_visible()
    other_tab = page.context.new_page()
    other_tab.goto(f"{base}/tasks/")
    expect(other_tab.locator(".timerbar")).to_contain_text("Timer running for")
    other_tab.close()
    shot(page, "timer-running")

    # Pretend the call took 9 minutes: move the server-side start back.
    timer = RunningTimer.objects.unscoped().get()
    started = timer.started_at
    RunningTimer.objects.unscoped().filter(pk=timer.pk).update(
        started_at=started - __import__("datetime").timedelta(minutes=9, seconds=5)
    )
    page.get_by_role("link", name="Stop and log").click()
    expect(page.locator("main")).to_contain_text("9 whole minutes")
    page.get_by_label("Activity").select_option("call_patient")
    page.get_by_label("Note").fill("Checked blood sugar log; no lows.")
    page.get_by_label("Outcome").select_option("reached")
    page.get_by_role("button", name=re.compile("Save 9 minutes")).click()
    expect(page.locator(".messages")).to_contain_text("9 minutes logged from the timer.")
    expect(page.locator("#time")).to_contain_text("Checked blood sugar log")
    expect(page.locator(".timerbar")).to_have_count(0)
    shot(page, "chart-time")
    entry = TimeEntry.objects.unscoped().filter(source="timer").get()
    assert entry.minutes == 9
    assert name.split(",")[0] in page.get_by_role("heading", level=1).inner_text()

    # Back on the worklist (every patient of the coordinator fits on page 1), the row's
    # staff minutes and its progress bar have moved by the 9 minutes.
    main_nav(page, "Worklist")
    row = page.locator("#worklist tbody tr").filter(
        has=page.get_by_role("link", name=name, exact=True)
    )
    expect(row.locator("td").nth(1)).to_have_text(str(staff_before + 9))
    expect(row.locator("progress")).to_have_attribute("value", str(bar_before + 9))
    shot(page, "worklist-after-timer")
    page.go_back()

    # A follow-up task from the chart, completed with its call's minutes.
    page.get_by_role("link", name="New task").click()
    page.get_by_label("Kind").select_option("custom")
    page.get_by_label("Title").fill("Ask about the eye exam")
    page.get_by_role("button", name="Create task").click()
    expect(page.locator(".messages")).to_contain_text("Task created.")
    page.get_by_role("link", name="Ask about the eye exam").click()
    page.get_by_label("Note").fill("Booked for next week")
    page.get_by_role("button", name="Mark done").click()
    expect(page.locator(".messages")).to_contain_text("Task marked done.")
    assert Task.objects.unscoped().get(title="Ask about the eye exam").status == "done"
    assert csp_violations == []
