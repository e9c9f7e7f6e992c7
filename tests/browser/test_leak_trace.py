"""A leak copied out of the real browser is traced to its viewer; the watermark shows who they are."""

import io
import re
from datetime import UTC
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from labelhub.pseudonyms import annotator_pseudonym
from projects.models import GuidelineView, Membership, Project
from projects.services import guideline_publish, guideline_view_record
from tests.browser.conftest import BrowserErrors, log_in
from tests.conftest import member

SCREENSHOTS = Path(__file__).parent / "screenshots"
GUIDELINES = """# Judging helpfulness

Prefer the answer that is correct. Then prefer the clearer one: shorter, kinder and more direct.

- Check every fact you can.
- Judge *tone* last.

A refusal is right only when the request is harmful.
"""
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\u2062\u2063]")

SELECTED_TEXT = """(element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return selection.toString();
}"""

TEXT_BOUNDS = """(element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0);
    const first = rects[0], last = rects[rects.length - 1];
    return {left: first.left, top: first.top, height: first.height, right: last.right, bottom: last.bottom};
}"""

# Lays an unmarked copy of the guideline body next to the marked one and measures both: the marks
# must not move a single glyph (a missing-glyph box or an extra line would).
LAYOUT_DIFFERENCES = """(body) => {
    const plain = body.cloneNode(true);
    const walker = document.createTreeWalker(plain, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        node.data = node.data.replace(/[\\u200b\\u200c\\u200d\\u2060\\u2062\\u2063]/g, "");
    }
    body.after(plain);
    const measure = (root) => [...root.querySelectorAll("h1, p, li")].map((element) => {
        const range = document.createRange();
        range.selectNodeContents(element);
        const r = range.getBoundingClientRect();
        return [element.tagName, Math.round(r.width * 100) / 100, Math.round(r.height * 100) / 100];
    });
    const marked = measure(body), unmarked = measure(plain);
    plain.remove();
    return marked
        .map((m, i) => ({marked: m, plain: unmarked[i]}))
        .filter((pair) => JSON.stringify(pair.marked) !== JSON.stringify(pair.plain));
}"""


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True, caret="initial")


def trace_leak(path: Path) -> str:
    out = io.StringIO()
    call_command("trace_leak", str(path), stdout=out)
    return out.getvalue()


def described(view: GuidelineView, pseudonym: str) -> str:
    when = view.viewed_at.astimezone(UTC).isoformat(timespec="seconds")
    return (
        f"view {view.pk}: {view.viewer.username} ({pseudonym}) saw the guidelines of project "
        f"acme-helpfulness (Aurora) version {view.guideline.version} at {when}"
    )


def drag_select_and_copy(page: Page, block: Locator) -> str:
    """Select `block` with the mouse from its first letter to its last, copy, and read the clipboard."""
    block.scroll_into_view_if_needed()
    bounds = block.evaluate(TEXT_BOUNDS)
    page.mouse.move(bounds["left"] + 1, bounds["top"] + bounds["height"] / 2)
    page.mouse.down()
    page.mouse.move(bounds["right"] + 2, bounds["bottom"] - bounds["height"] / 2, steps=8)
    page.mouse.up()
    page.keyboard.press("Control+c")
    return page.evaluate("navigator.clipboard.readText()")


@pytest.mark.browser
def test_excerpts_copied_from_the_browser_are_traced_to_the_logged_in_viewer(
    transactional_db: None,
    live_server: LiveServer,
    page: Page,
    browser_errors: BrowserErrors,
    acme: Project,
    acme_items: list,
    tmp_path: Path,
) -> None:
    guideline = guideline_publish(project=acme, body=GUIDELINES, author=None)
    # Someone else saw these guidelines first: the trace must tell the two apart.
    guideline_view_record(guideline=guideline, viewer=member(acme, "careful-expert", Membership.Role.EXPERT))
    expert = member(acme, "leaky-expert", Membership.Role.EXPERT)
    pseudonym = annotator_pseudonym(project_id=acme.pk, user_id=expert.pk)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    log_in(page, live_server.url, "leaky-expert", "pw-for-tests")
    page.goto(live_server.url + reverse("annotations:guidelines", args=[acme.code]))
    expect(page.get_by_role("heading", name="Aurora: guidelines")).to_be_visible()
    body = page.locator(".confidential .markdown")
    # The marks are part of the accessible name too, hence the pattern.
    expect(body.get_by_role("heading", name=re.compile("Judging.*helpfulness"))).to_be_visible()

    # The watermark: a visible label and the large faint text behind the guidelines.
    label = page.locator(".confidential-label")
    expect(label).to_be_visible()
    expect(label).to_contain_text("Confidential")
    expect(label).to_contain_text(pseudonym)
    behind = page.locator(".confidential").evaluate("(e) => getComputedStyle(e, '::after').content")
    assert behind == f'"Confidential · {pseudonym}"'
    screenshot(page, "guidelines-watermark.png")

    [view] = GuidelineView.objects.filter(viewer=expert)
    assert view.guideline.version == 2
    paragraph = body.locator("p").first
    excerpts = {
        "paragraph-innertext": paragraph.inner_text(),
        "list-item-innertext": body.locator("li").last.inner_text(),
        "paragraph-selection": paragraph.evaluate(SELECTED_TEXT),
        "one-sentence-paragraph-dragged-and-copied": drag_select_and_copy(page, body.locator("p").last),
        "list-item-dragged-and-copied": drag_select_and_copy(page, body.locator("li").first),
    }
    assert INVISIBLE.sub("", excerpts["paragraph-innertext"]).startswith("Prefer the answer that is correct.")
    assert INVISIBLE.sub("", excerpts["one-sentence-paragraph-dragged-and-copied"]) == (
        "A refusal is right only when the request is harmful."
    )

    for name, excerpt in excerpts.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(excerpt, encoding="utf-8")
        assert trace_leak(path).splitlines() == [described(view, pseudonym)], name

    assert body.evaluate(LAYOUT_DIFFERENCES) == []

    # The labelling page shows the guidelines beside the task: another view, traced as such.
    page.goto(live_server.url + reverse("annotations:label", args=[acme.code]))
    aside = page.locator("aside.guidelines .markdown")
    expect(aside.locator("p").last).to_be_visible()
    aside_view = GuidelineView.objects.filter(viewer=expert).latest("pk")
    assert aside_view.pk != view.pk
    path = tmp_path / "aside-paragraph.txt"
    path.write_text(aside.locator("p").last.inner_text(), encoding="utf-8")
    assert trace_leak(path).splitlines() == [described(aside_view, pseudonym)]
    assert browser_errors.messages == []
