"""The API's Swagger UI runs in Chromium under our CSP: own scripts only, nothing inline."""

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.conftest import BrowserErrors


def test_the_swagger_ui_renders_the_schema_without_a_csp_violation(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors, db
):
    page.goto(f"{live_server.url}/api/schema/ui/")
    expect(page.get_by_text("/api/v1/projects/{slug}/export").first).to_be_visible()
    assert browser_errors.messages == []
