"""A manager finds a paused expert and one who failed the qualification on the quality page, and
reinstates one and opens a retake for the other in the browser, confirming each."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect
from pytest_django.live_server_helper import LiveServer

from projects.models import Membership, Project
from tests.browser.conftest import BrowserErrors, log_in
from tests.conftest import member
from tests.factories import ItemFactory
from tests.quality.test_controls import answer, gold_item

SCREENSHOTS = Path(__file__).parent / "screenshots"
QualityStatus = Membership.QualityStatus


@pytest.fixture
def held_back(acme: Project, manager, annotator, annotator2):
    """Acme asks for a 3-item qualification: acme-expert failed it, acme-expert2 passed and
    labels, acme-expert3 passed and was paused."""
    Project.objects.filter(pk=acme.pk).update(qualification_items=3, qualification_cooloff_days=None)
    acme.refresh_from_db()
    for n in range(8):
        gold_item(acme, f"q-{n}", qualification=True)
    for n in range(6):
        ItemFactory(project=acme, external_id=f"w-{n}")
    third = member(acme, "acme-expert3", Membership.Role.EXPERT)
    for correct in (True, False, False):
        answer(acme, annotator, correct=correct)
    for expert in (annotator2, third):
        for _ in range(3):
            answer(acme, expert, correct=True)
        for _ in range(2):
            answer(acme, expert, correct=True)
    Membership.objects.filter(project=acme, user=third).update(quality_status=QualityStatus.PAUSED)
    return acme


def row(page, username: str):
    # The row that begins with the username (not acme-expert2's for acme-expert).
    return page.get_by_test_id("quality-expert-row").filter(has_text=re.compile(rf"^\s*{username}(?![\w-])"))


@pytest.mark.browser
def test_a_manager_reinstates_and_opens_a_retake_from_the_quality_page(
    live_server: LiveServer, browser: Browser, browser_errors: BrowserErrors, held_back: Project
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.on("console", browser_errors.console)
    page.on("pageerror", browser_errors.page_error)
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    log_in(page, live_server.url, "acme-manager", password="pw-for-tests")
    page.goto(f"{live_server.url}/p/{held_back.code}/")
    notice = page.get_by_test_id("held-back-notice")
    expect(notice).to_contain_text("1 expert is paused")
    expect(notice).to_contain_text("1 expert failed the qualification")
    notice.get_by_role("link", name="See them on the quality page").click()

    expect(page.get_by_role("heading", name="Quality of Acme helpfulness")).to_be_visible()
    expect(row(page, "acme-expert3").get_by_test_id("expert-status")).to_have_text("paused")
    expect(row(page, "acme-expert").get_by_test_id("expert-status")).to_have_text("failed")
    expect(row(page, "acme-expert2").get_by_role("button")).to_have_count(0)
    # The table fits the window: no column, nor a row's second button, scrolled out of sight.
    overflow = page.evaluate(
        "[document.documentElement, document.querySelector('.table-scroll')]"
        ".map(e => e.scrollWidth - e.clientWidth)"
    )
    assert overflow == [0, 0], overflow
    expect(row(page, "acme-expert").get_by_role("button", name="Allow a retake now")).to_be_in_viewport()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "quality-held-back.png", full_page=True, caret="initial")
    page.evaluate("window.__sameDocument = true")

    row(page, "acme-expert3").get_by_role("button", name="Reinstate").click()
    expect(page.get_by_test_id("expert-action-done")).to_have_text(
        "acme-expert3 is reinstated: they are served items again."
    )
    expect(row(page, "acme-expert3").get_by_test_id("expert-status")).to_have_text("active")
    assert dialogs == ["Reinstate acme-expert3? They are served items again at once."]

    row(page, "acme-expert").get_by_role("button", name="Allow a retake now").click()
    expect(page.get_by_test_id("expert-action-done")).to_have_text(
        "acme-expert may retake the qualification now."
    )
    expect(row(page, "acme-expert").get_by_test_id("expert-status")).to_have_text("qualifying")
    assert page.evaluate("window.__sameDocument") is True  # swapped in by htmx, no page load
    page.screenshot(path=SCREENSHOTS / "quality-after-actions.png", full_page=True, caret="initial")

    statuses = dict(
        Membership.objects.filter(project=held_back, role=Membership.Role.EXPERT).values_list(
            "user__username", "quality_status"
        )
    )
    assert statuses["acme-expert3"] == QualityStatus.ACTIVE
    assert Membership.objects.get(project=held_back, user__username="acme-expert").retake_after is not None
    assert browser_errors.messages == []
    context.close()
