"""Playwright fixtures: Debian's Chromium, headless, never a downloaded browser."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.db import connections
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from tests.conftest import skip_or_fail

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class BrowserErrors:
    """Console errors (CSP violations land here) and uncaught page errors."""

    messages: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text} ({message.location.get('url', '')})")

    def page_error(self, error: Error) -> None:
        self.messages.append(f"pageerror: {error}")


@pytest.fixture
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop running in this thread, which makes Django refuse
    # ORM calls from the test unless told they are safe here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(_orm_beside_playwright: None) -> Iterator[Browser]:
    # Function scope on purpose: a browser outliving the test would leave Playwright's loop running
    # and break the ORM in every later test.
    executable = shutil.which("chromium")
    if executable is None:
        skip_or_fail("needs Debian's Chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While Playwright's loop runs, Django keeps this thread's connections in a separate
        # (context-local) store; close them now, or PostgreSQL cannot drop the test database.
        connections.close_all()


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def page(browser: Browser, browser_errors: BrowserErrors) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.on("console", browser_errors.console)
    page.on("pageerror", browser_errors.page_error)
    yield page
    context.close()


def log_in(page: Page, base_url: str, username: str, password: str = "labelhub-demo") -> None:
    """Log in through the login page and wait for My projects."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My projects")).to_be_visible()
