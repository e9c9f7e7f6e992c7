"""The charts render under the CSP: no console violation, and a page that reads at a glance."""

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from annotations.models import Annotation
from tests.browser.conftest import BrowserErrors, log_in
from tests.quality.test_charts import judge_twelve

SCREENSHOTS = Path(__file__).parent / "screenshots"


@pytest.mark.browser
def test_the_quality_and_project_pages_draw_their_charts_without_a_csp_violation(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors, acme, manager, annotator, annotator2
) -> None:
    project = judge_twelve(acme, annotator, annotator2)
    # Times to draw and days to spread: the submissions of the setup record neither. Only the
    # first expert's labels move back, so every item is finished today, in one week.
    for n, annotation in enumerate(Annotation.objects.filter(project=project).order_by("pk")):
        days = n % 4 if annotation.expert_id == annotator.pk else 0
        Annotation.objects.filter(pk=annotation.pk).update(
            active_seconds=20 + (n * 7) % 45, submitted_at=annotation.submitted_at - timedelta(days=days)
        )
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, live_server.url, manager.username, "pw-for-tests")

    page.goto(f"{live_server.url}/p/{project.code}/quality/")
    charts = page.get_by_test_id("quality-charts")
    for name in ("gold-accuracy", "left-share", "speed", "agreement-weekly"):
        expect(charts.get_by_test_id(f"chart-{name}")).to_be_visible()
    expect(charts.locator("svg")).to_have_count(4)
    expect(page.get_by_role("img", name="Gold accuracy per expert, with its 95% interval")).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "quality-charts.png", full_page=True, caret="initial")
    with page.expect_download() as download:
        charts.get_by_test_id("chart-gold-accuracy").get_by_role("link", name="SVG").click()
    assert download.value.suggested_filename == f"{project.slug}-quality-gold-accuracy.svg"

    page.goto(f"{live_server.url}/p/{project.code}/")
    expect(page.get_by_role("img", name="Labels per day, by outcome")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "project-labels-per-day.png", full_page=True, caret="initial")
    assert not browser_errors.messages, browser_errors.messages
