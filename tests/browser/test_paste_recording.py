"""The labelling page counts what is pasted into the rationales and sends it with the judgment."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from annotations.models import Annotation, Draft
from tests.browser.conftest import BrowserErrors, log_in
from tests.browser.test_labelling import shown_assignment_id, submit_and_wait_for_next

PASTED = "The guideline's second rule settles it."


def paste(page: Page, text: str) -> None:
    """Paste `text` where the focus is, through the system clipboard, as an expert would."""
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    page.keyboard.press("Control+V")


@pytest.mark.browser
def test_pasted_characters_are_counted_kept_in_the_draft_and_stored_with_the_judgment(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    call_command("seed_demo", stdout=io.StringIO())
    log_in(page, live_server.url, "acme-expert")
    page.get_by_role("row", name=re.compile("Aurora")).get_by_role("link", name="Start").click()
    first = shown_assignment_id(page)

    page.keyboard.press("2")
    page.keyboard.press("e")
    rationale = page.get_by_label("Rationale")
    rationale.click()
    page.keyboard.type("Typed first. ")
    paste(page, PASTED)
    expect(rationale).to_have_value("Typed first. " + PASTED)
    counted = page.locator("input[name=pasted_chars]")
    expect(counted).to_have_value(str(len(PASTED)))

    # The count is the draft's, as the text it is of: a reload puts both back.
    expect(page.locator("[data-task-status]")).to_have_text(re.compile(r"^Draft saved at "))
    assert Draft.objects.get(assignment_id=first).fields["pasted_chars"] == [str(len(PASTED))]
    page.reload()
    expect(page.get_by_label("Rationale")).to_have_value("Typed first. " + PASTED)
    expect(counted).to_have_value(str(len(PASTED)))
    submit_and_wait_for_next(page, first)
    stored = Annotation.objects.get(assignment_id=first)
    assert (stored.rationale, stored.pasted_chars) == ("Typed first. " + PASTED, len(PASTED))

    # Pasted, then deleted and typed over: nothing pasted is left, so nothing counts.
    second = shown_assignment_id(page)
    page.keyboard.press("1")
    page.keyboard.press("q")
    page.get_by_label("Rationale").click()
    paste(page, PASTED)
    expect(counted).to_have_value(str(len(PASTED)))
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.keyboard.type("A is right.")
    expect(counted).to_have_value("0")
    submit_and_wait_for_next(page, second)
    assert Annotation.objects.get(assignment_id=second).pasted_chars == 0
    assert browser_errors.messages == []


@pytest.mark.browser
def test_pasted_criterion_notes_count_unless_their_response_is_marked_not_ratable(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    call_command("seed_demo", stdout=io.StringIO())
    log_in(page, live_server.url, "acme-expert")
    page.get_by_role("row", name=re.compile("Cirrus")).get_by_role("link", name="Start").click()
    assignment = shown_assignment_id(page)
    groups = page.locator("fieldset[data-keygroup]")
    expect(groups).to_have_count(20)  # four responses, five criteria each
    for _ in range(20):
        page.keyboard.press("4")

    page.get_by_label("Why this honesty score for response 1").click()
    paste(page, "Invents a citation.")
    page.get_by_label("Why this honesty score for response 2").click()
    paste(page, "Cut off mid-sentence.")
    counted = page.locator("input[name=pasted_chars]")
    expect(counted).to_have_value(str(len("Invents a citation.") + len("Cut off mid-sentence.")))
    # A response marked not ratable keeps none of its notes: what was pasted there is gone.
    page.get_by_role("checkbox", name="Response 2 is not ratable").check()
    page.get_by_label("Why response 2 is not ratable").fill("Truncated answer")
    expect(counted).to_have_value(str(len("Invents a citation.")))

    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    stored = Annotation.objects.get(assignment_id=assignment)
    assert stored.pasted_chars == len("Invents a citation.")
    assert stored.ratings.get(response__position=0).rationales == {"honesty": "Invents a citation."}
    assert browser_errors.messages == []
