"""The expert's path through the real browser: log in, label with the keyboard, see the count drop."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from annotations.models import Annotation
from tests.browser.conftest import BrowserErrors, log_in

SCREENSHOTS = Path(__file__).parent / "screenshots"
SUBMIT_ACTION = re.compile(r"/label/(\d+)/submit/$")


def items_left_in_aurora(page: Page) -> int:
    return int(page.get_by_test_id("left-Aurora").inner_text().strip())


def shown_assignment_id(page: Page) -> int:
    action = page.locator("form[data-task-form]").get_attribute("action") or ""
    match = SUBMIT_ACTION.search(action)
    assert match, f"unexpected submit action {action!r}"
    return int(match.group(1))


def screenshot(page: Page, name: str) -> None:
    # Playwright's default caret hiding leaves style="" on every input; keep the page untouched.
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True, caret="initial")


def stored_preference(choice: str, shown_left: int) -> str:
    """What the app must store for a displayed choice: "a" is the item's response at position 0."""
    position = shown_left if choice == "A" else 1 - shown_left
    return "a" if position == 0 else "b"


def submit_and_wait_for_next(page: Page, previous_assignment: int) -> None:
    page.keyboard.press("Control+Enter")
    expect(page.locator("form[data-task-form]")).not_to_have_attribute(
        "action", re.compile(rf"/label/{previous_assignment}/submit/$")
    )
    expect(page.get_by_role("status")).to_have_text("Saved.")


@pytest.mark.browser
def test_expert_labels_two_items_with_the_keyboard_and_sees_them_counted(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors
) -> None:
    call_command("seed_demo", stdout=io.StringIO())

    log_in(page, live_server.url, "acme-expert")
    left_before = items_left_in_aurora(page)
    assert left_before >= 2

    page.get_by_role("row", name=re.compile("Aurora")).get_by_role("link", name="Start").click()
    expect(page.get_by_role("radio", name="A is better")).to_be_visible()
    expect(page.get_by_label("Rationale")).to_be_visible()
    expect(page.get_by_role("button", name="Submit")).to_be_visible()
    # Survives htmx swaps but not a page load.
    page.evaluate("window.__sameDocument = true")

    first = shown_assignment_id(page)
    page.keyboard.press("1")
    page.keyboard.press("w")
    expect(page.get_by_role("radio", name="A is better")).to_be_checked()
    expect(page.get_by_role("radio", name="Clearly better")).to_be_checked()
    page.get_by_label("Rationale").click()
    page.keyboard.type("A answers the question; B drifts.")
    screenshot(page, "label-first-item.png")
    submit_and_wait_for_next(page, first)

    # The swap puts the focus on the new task, so the keys act at once without leaving a textarea.
    second = shown_assignment_id(page)
    page.keyboard.press("2")
    page.keyboard.press("e")
    expect(page.get_by_role("radio", name="B is better")).to_be_checked()
    expect(page.get_by_role("radio", name="Much better")).to_be_checked()
    expect(page.get_by_label("Rationale")).to_have_value("")
    submit_and_wait_for_next(page, second)
    screenshot(page, "label-after-second-submit.png")
    assert page.evaluate("window.__sameDocument === true"), "submitting reloaded the page"

    page.get_by_role("link", name="My projects").click()
    expect(page.get_by_role("heading", name="My projects")).to_be_visible()
    assert items_left_in_aurora(page) == left_before - 2

    annotations = list(
        Annotation.objects.filter(expert__username="acme-expert").select_related("assignment").order_by("pk")
    )
    assert [a.assignment_id for a in annotations] == [first, second]
    expected = [
        (
            stored_preference("A", annotations[0].assignment.shown_left),
            2,
            "A answers the question; B drifts.",
        ),
        (stored_preference("B", annotations[1].assignment.shown_left), 3, ""),
    ]
    assert [(a.preference, a.strength, a.rationale) for a in annotations] == expected
    assert browser_errors.messages == []
