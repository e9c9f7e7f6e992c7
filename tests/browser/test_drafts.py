"""What an expert types survives a reload, a new login and a lost connection."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from annotations.models import Annotation, Draft
from tests.browser.conftest import BrowserErrors, log_in
from tests.browser.test_labelling import screenshot, shown_assignment_id


def expect_the_draft(page: Page) -> None:
    expect(page.get_by_role("radio", name="B is better")).to_be_checked()
    expect(page.get_by_role("radio", name="Much better")).to_be_checked()
    expect(page.get_by_label("Rationale")).to_have_value("B cites the dosage table; A guesses.")


@pytest.mark.browser
def test_a_draft_comes_back_after_a_reload_and_a_new_login_and_an_offline_submit_is_kept(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors
) -> None:
    call_command("seed_demo", stdout=io.StringIO())
    log_in(page, live_server.url, "acme-expert")
    page.get_by_role("row", name=re.compile("Aurora")).get_by_role("link", name="Start").click()
    assignment = shown_assignment_id(page)

    page.keyboard.press("2")
    page.keyboard.press("e")
    page.get_by_label("Rationale").click()
    page.keyboard.type("B cites the dosage table; A guesses.")
    status = page.locator("[data-task-status]")
    expect(status).to_have_text(re.compile(r"^Draft saved at "))
    assert Draft.objects.get(assignment_id=assignment).fields["choice"] == ["B"]

    page.reload()
    expect_the_draft(page)
    expect(status).to_have_text("Your draft from earlier is back.")

    # A crash or a logout: the next login resumes the same item with the same answers.
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, "acme-expert")
    page.get_by_role("row", name=re.compile("Aurora")).get_by_role("link", name="Start").click()
    assert shown_assignment_id(page) == assignment
    expect_the_draft(page)

    # The connection drops as the expert submits: the form stays as it was and says so; the
    # page tries again, and once the connection is back the label is stored exactly once.
    page.context.set_offline(True)
    page.keyboard.press("Control+Enter")
    expect(status).to_have_text(re.compile("Not submitted: the server could not be reached"))
    expect_the_draft(page)
    screenshot(page, "label-offline-submit.png")
    page.context.set_offline(False)
    expect(page.get_by_role("status")).to_have_text("Saved.", timeout=15_000)
    assert Annotation.objects.filter(assignment_id=assignment).count() == 1
    assert not Draft.objects.filter(assignment_id=assignment).exists()
    # Only the requests the browser could not send while offline may complain (and htmx logs them).
    offline = ("ERR_INTERNET_DISCONNECTED", "console: htmx:sendError", "console: htmx:afterRequest")
    assert [m for m in browser_errors.messages if not any(mark in m for mark in offline)] == []
