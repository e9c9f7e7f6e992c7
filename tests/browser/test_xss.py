"""An XSS corpus imported as prompts, responses, rationales and guidelines stays inert in Chromium.

The payloads (tests/data/xss_payloads.txt) go in through the real paths: the JSONL importer for
prompts and responses, the guideline service, the annotation service and the labelling form for
rationales. Every page that shows them is then loaded in Chromium, and after each load or swap:

* no script ran: no alert/confirm/prompt dialog, `window.__xss` still undefined (payloads call
  `xss()`, defined by an init script, or set it), no uncaught page error;
* the markup is inert: no event-handler attribute, no `javascript:`/`data:` URL, no frame, object,
  base, meta refresh or foreign script anywhere, and nothing outside the sanitiser's allow-list
  inside rendered markdown;
* no Content Security Policy violation: the CSP is a second wall, and a blocked payload would mean
  markup got through as real HTML;
* the payload was rendered as text (its distinctive words are there), not silently dropped.

Findings are collected over the whole walk and reported together.
"""

import html
import json
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect
from pytest_django.live_server_helper import LiveServer

from annotations.models import Annotation, Assignment
from annotations.services import Judgment, annotation_submit, assignment_next
from projects.importing import parse_items
from projects.models import Guideline, Item, Membership
from projects.services import guideline_publish, items_import
from tests.browser.conftest import BrowserErrors, log_in
from tests.conftest import member
from tests.factories import ClientFactory, ProjectFactory, UserFactory

PAYLOAD_FILE = Path(__file__).resolve().parent.parent / "data" / "xss_payloads.txt"
STRIP_PREFIX = "[strip] "
PASSWORD = "pw-for-tests"
SUBMIT_ACTION = re.compile(r"/label/(\d+)/submit/$")
REFUSED_LOAD = "the server responded with a status of 422"

# Also payloads, in the project's own names: the codename reaches every expert page (title, h1).
CODENAME = "Nova</title><script>xss()</script>"
PROJECT_NAME = 'Helpfulness "><svg onload=xss()> <script>alert(1)</script>'
CLIENT_NAME = "Acme </textarea><img src=x onerror=xss()>"

DETECTOR = """
window.xss = function () { window.__xss = (window.__xss || 0) + 1; };
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
    + " at " + event.sourceFile + ":" + event.lineNumber + " (" + (event.sample || "") + ")");
});
"""

# What a payload that got through would do, done on purpose to prove the detectors work.
CANARY = """
() => {
  alert("canary");
  xss();
  document.body.insertAdjacentHTML("beforeend", '<img src="data:," onerror="xss()" alt="">');
}
"""

# One pass over the DOM: everything that would make markup live, whether or not it fired yet.
AUDIT = """
() => {
  const found = [];
  const show = (el) => el.outerHTML.slice(0, 200);
  const URL_ATTRS = new Set(["href", "src", "action", "formaction", "data", "xlink:href", "background",
    "poster", "srcset", "codebase", "lowsrc", "dynsrc", "ping", "manifest", "cite", "values", "to", "from"]);
  const BAD_URL = /^(javascript|vbscript|livescript|data):/;
  const FORBIDDEN = new Set(["iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal",
    "marquee", "template"]);
  const MARKDOWN_TAGS = new Set(["a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul"]);
  const MARKDOWN_ATTRS = {a: ["href", "title", "rel"], code: ["class"], pre: ["class"], span: ["class"],
    th: ["align"], td: ["align"]};
  const staticRoot = location.origin + "/static/";
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) found.push("event handler " + name + ": " + show(el));
      if (name === "srcdoc") found.push("srcdoc: " + show(el));
      const value = attr.value.replace(/[\\u0000-\\u0020]+/g, "").toLowerCase();
      if (URL_ATTRS.has(name) && BAD_URL.test(value)) {
        found.push("dangerous URL in " + name + ": " + show(el));
      }
    }
    const tag = el.localName;
    if (FORBIDDEN.has(tag)) found.push("element <" + tag + ">: " + show(el));
    if (tag === "meta" && el.hasAttribute("http-equiv")) found.push("meta http-equiv: " + show(el));
    if (tag === "script") {
      const src = el.getAttribute("src");
      const url = src ? new URL(src, location.href).href : "";
      const ok = src ? url.startsWith(staticRoot) || url === location.origin + "/admin/jsi18n/"
        : el.type === "application/json";
      if (!ok) found.push("foreign script: " + show(el));
    }
    if ((tag === "style" || tag === "link") && document.body.contains(el)) {
      found.push("<" + tag + "> in body: " + show(el));
    }
  }
  // Rendered markdown: only what the sanitiser allows, all of it HTML (no SVG or MathML).
  for (const root of document.querySelectorAll(".markdown")) {
    for (const el of root.querySelectorAll("*")) {
      const tag = el.localName;
      if (el.namespaceURI !== "http://www.w3.org/1999/xhtml" || !MARKDOWN_TAGS.has(tag)) {
        found.push("markdown let through <" + tag + ">: " + show(el));
        continue;
      }
      for (const attr of el.attributes) {
        if (!(MARKDOWN_ATTRS[tag] || []).includes(attr.name)) {
          found.push("markdown let through attribute " + attr.name + ": " + show(el));
        }
      }
    }
  }
  // Admin read-only values are escaped text: line breaks are the only elements allowed there.
  // The project's progress panel is the app's own markup (names escaped into it): paragraphs,
  // bold figures and links within the app, nothing else.
  for (const root of document.querySelectorAll("div.readonly")) {
    const panel = root.closest(".field-progress_at_a_glance") !== null;
    for (const el of root.querySelectorAll("*")) {
      const tag = el.localName;
      const href = el.getAttribute("href") || "";
      const ok = tag === "br"
        || (tag === "img" && (el.getAttribute("src") || "").startsWith("/static/admin/img/icon-"))
        || (tag === "a" && href.startsWith("/admin/"))
        || (panel && (tag === "p" || tag === "strong" || (tag === "a" && href.startsWith("/p/"))));
      if (!ok) found.push("admin read-only HTML: " + show(el));
    }
  }
  return {
    xss: typeof window.__xss === "undefined" ? null : typeof window.__xss + " " + String(window.__xss),
    csp: window.__cspViolations || [],
    frames: window.frames.length,
    found: found,
  };
}
"""

# Waits polled on animation frames: much quicker than expect()'s back-off for ~40 swaps.
REFUSED_SHOWN = (
    """() => document.querySelector("#task .field-error")?.textContent.includes("how much better")"""
)
NEXT_SHOWN = """(old) => !document.querySelector(`form[action$="${old}"]`)
  && document.querySelector("#task [role=status]")?.textContent.trim() === "Saved." """

# The labelling task as the expert sees it, read in one round trip.
READ_TASK = """
() => {
  const form = document.querySelector("form[data-task-form]");
  return {
    action: form ? form.getAttribute("action") : null,
    prompts: [...document.querySelectorAll("#task .prompt .turn .markdown")].map((e) => e.innerText),
    responses: [...document.querySelectorAll("#task .response .markdown")].map((e) => e.innerText),
  };
}
"""


def normalise(text: str) -> str:
    """Text as compared: without invisible format characters (the guidelines' fingerprint marks
    are made of them), CRLF as LF, whitespace runs as one space."""
    visible = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return " ".join(visible.replace("\r\n", "\n").split())


@dataclass(frozen=True)
class Payload:
    text: str
    may_strip: bool  # markdown or the sanitiser may legitimately drop part of its text

    @cached_property
    def probes(self) -> list[str]:
        """Words that must show when the payload renders as text: runs of 3+ letters or digits,
        taken from the text both before and after entity decoding (markdown decodes entities
        outside code, keeps them inside), leaving out the info string of a code fence."""
        body = re.sub(r"(?m)^(```|~~~)\S*", "", self.text)
        words = re.findall(r"[A-Za-z0-9]{3,}", body)
        decoded = set(re.findall(r"[A-Za-z0-9]{3,}", html.unescape(body)))
        return sorted({word for word in words if word in decoded})

    def missing_from(self, shown: str) -> list[str]:
        if self.may_strip:
            return []
        haystack = normalise(shown).lower()
        return [probe for probe in self.probes if probe.lower() not in haystack]


def load_payloads() -> list[Payload]:
    lines = PAYLOAD_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#"), "the first line documents the file format"
    payloads = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        may_strip = line.startswith(STRIP_PREFIX)
        payloads.append(Payload(line.removeprefix(STRIP_PREFIX).replace("\\n", "\n"), may_strip))
    return payloads


@dataclass
class Watch:
    """Execution and CSP signals from every page, drained at each checkpoint into findings."""

    errors: BrowserErrors
    findings: list[str] = field(default_factory=list)
    csp_findings: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    _dialogs: list[str] = field(default_factory=list)
    _csp_console: list[str] = field(default_factory=list)
    checkpoints: int = 0

    def attach(self, page: Page) -> None:
        page.context.add_init_script(DETECTOR)
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("console", self.errors.console)
        page.on("pageerror", self.errors.page_error)

    def _dialog(self, dialog: Dialog) -> None:
        url = dialog.page.url if dialog.page else "?"
        self._dialogs.append(f"{dialog.type}({dialog.message!r}) on {url}")
        dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        if "content security policy" in message.text.lower():
            self._csp_console.append(message.text)

    def check(self, page: Page, where: str) -> None:
        """No execution, no live markup, no CSP block on `page` as it stands now."""
        self.checkpoints += 1
        state = page.evaluate(AUDIT)
        if state["xss"] is not None:
            self.findings.append(f"{where}: window.__xss = {state['xss']} (a payload ran or clobbered it)")
        if state["frames"]:
            self.findings.append(f"{where}: {state['frames']} frame(s) in the page")
        self.findings.extend(f"{where}: {finding}" for finding in state["found"])
        self.findings.extend(f"{where}: dialog {dialog}" for dialog in self._dialogs)
        self.findings.extend(f"{where}: {error}" for error in self.errors.messages)
        self.csp_findings.extend(f"{where}: {violation}" for violation in state["csp"])
        self.csp_findings.extend(f"{where}: console {message}" for message in self._csp_console)
        self._dialogs.clear()
        self._csp_console.clear()
        self.errors.messages.clear()
        page.evaluate("window.__cspViolations = []")

    def self_test(self, page: Page) -> None:
        """Prove the detectors see a dialog, a call to xss(), a live event handler and a CSP block
        by committing all four on purpose; then reload the page clean."""
        page.evaluate(CANARY)
        page.wait_for_function("() => window.__cspViolations.length > 0")
        self.check(page, "canary")
        assert any("dialog alert('canary')" in finding for finding in self.findings), self.findings
        assert any("window.__xss = number 1" in finding for finding in self.findings), self.findings
        assert any("event handler onerror" in finding for finding in self.findings), self.findings
        assert any("console" in finding for finding in self.csp_findings), self.csp_findings
        assert any("script-src" in finding for finding in self.csp_findings), self.csp_findings
        page.reload()
        self.findings.clear()
        self.csp_findings.clear()
        self.errors.messages.clear()
        self.check(page, "after the canary")

    def report(self) -> str:
        sections = [
            ("CSP blocked markup that got through", self.csp_findings),
            ("live markup or script execution", self.findings),
            ("payloads not shown as text", self.vanished),
        ]
        return "\n".join(
            f"{title} ({len(lines)}):\n  " + "\n  ".join(lines) for title, lines in sections if lines
        )

    def shown(self, where: str, payload: Payload, text: str) -> None:
        missing = payload.missing_from(text)
        if missing:
            self.vanished.append(f"{where}: {payload.text!r} lost {missing}")

    def shown_exactly(self, where: str, payload: Payload, text: str) -> None:
        """Escaped-text contexts (admin, textarea) must show the payload itself."""
        if normalise(payload.text) not in normalise(text):
            self.vanished.append(f"{where}: {payload.text!r} not shown as text")


# --- building the data through the real import, guideline and annotation paths ---


ITEMS = 21  # few enough pages to keep the walk short, so several payloads share an item


def chat_roles(turns: int) -> list[str]:
    """A system message, then user and assistant turns ending with the user."""
    return ["system"] + ["user" if (turns - 2 - n) % 2 == 0 else "assistant" for n in range(turns - 1)]


@dataclass(frozen=True)
class Placed:
    """Where one item's payloads sit: one per prompt turn; a few per response and rationale."""

    prompt: list[Payload]
    responses: list[list[Payload]]

    @property
    def rationale(self) -> str:
        return join([payload for response in self.responses for payload in response])


def join(payloads: list[Payload]) -> str:
    return "\n\n".join(payload.text for payload in payloads)


def build_jsonl(payloads: list[Payload]) -> tuple[str, dict[str, Placed]]:
    """Every payload alone in one prompt (a plain prompt or a chat turn) and in one response,
    beside a few others; each item's two responses differ. Returns the file and, per external id,
    which payloads sit where."""
    n = len(payloads)
    response_slots = [payloads[slot :: 2 * ITEMS] for slot in range(2 * ITEMS)]
    # The prompts take the payloads in another order, so that an item's prompt and responses differ.
    prompt_order = payloads[n // 2 :] + payloads[: n // 2]
    plain = [index for index in range(ITEMS) if index % 3 == 0]  # a third are plain prompts
    chats = [index for index in range(ITEMS) if index % 3]
    per_chat, extra = divmod(n - len(plain), len(chats))
    sizes = {index: 1 for index in plain} | {
        index: per_chat + (rank < extra) for rank, index in enumerate(chats)
    }
    lines, layout = [], {}
    taken = 0
    for index in range(ITEMS):
        turns = prompt_order[taken : taken + sizes[index]]
        taken += sizes[index]
        if index in plain:
            prompt = turns[0].text
        else:
            roles = chat_roles(len(turns))
            prompt = [{"role": role, "content": p.text} for role, p in zip(roles, turns, strict=True)]
        placed = Placed(turns, response_slots[2 * index : 2 * index + 2])
        external_id = f"xss-{index:03d}"
        responses = [
            {"content": join(response), "model": model}
            for response, model in zip(placed.responses, ("model-x", "model-y"), strict=True)
        ]
        lines.append(json.dumps({"id": external_id, "prompt": prompt, "responses": responses}))
        layout[external_id] = placed
    assert taken == n
    assert sorted(p.text for placed in layout.values() for r in placed.responses for p in r) == sorted(
        p.text for p in payloads
    )
    return "\n".join(lines) + "\n", layout


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5_000)
    yield context.new_page()
    context.close()


def visit(page: Page, watch: Watch, url: str, where: str) -> None:
    response = page.goto(url)
    if response is None or not response.ok:
        watch.findings.append(f"{where}: {url} answered {response.status if response else 'nothing'}")
    if page.url != url:
        watch.findings.append(f"{where}: navigated away to {page.url}")
    watch.check(page, where)


# --- the walk ---


def label_every_item(page: Page, watch: Watch, layout: dict[str, Placed]) -> dict[int, str]:
    """Go through the expert's queue in the browser. On each item: check what is shown, type the
    item's payloads as the rationale, submit without a strength (the 422 re-renders the
    rationale in the textarea), then submit a tie. Returns the rationale typed per item."""
    typed: dict[int, str] = {}
    while True:
        task = page.evaluate(READ_TASK)
        if task["action"] is None:
            expect(page.get_by_role("heading", name=re.compile("All done"))).to_be_visible()
            return typed
        assignment = Assignment.objects.select_related("item").get(
            pk=int(SUBMIT_ACTION.search(task["action"]).group(1))
        )
        item = assignment.item
        where = f"label page, item {item.external_id}"
        assert item.pk not in typed, f"{where} served twice"
        watch.check(page, where)
        placed = layout[item.external_id]
        if len(task["prompts"]) != len(placed.prompt) or len(task["responses"]) != 2:
            watch.findings.append(f"{where}: the payloads broke the page's structure")
        for shown, payload in zip(task["prompts"], placed.prompt, strict=False):
            watch.shown(f"{where} prompt", payload, shown)
        displayed = [placed.responses[position] for position in assignment.display_order]
        for side, shown, response in zip("AB", task["responses"], displayed, strict=False):
            for payload in response:
                watch.shown(f"{where} response {side}", payload, shown)

        # First with the keys: "1" picks A, and Ctrl+Enter sends it without a strength.
        typed[item.pk] = placed.rationale
        page.keyboard.press("1")
        page.locator("textarea[name=rationale]").fill(placed.rationale)
        page.keyboard.press("Control+Enter")
        page.wait_for_function(REFUSED_SHOWN)
        # The browser logs the deliberate 422 as a failed load; that one is expected.
        watch.errors.messages[:] = [m for m in watch.errors.messages if REFUSED_LOAD not in m]
        watch.check(page, f"{where}, re-shown after a refused submission")
        kept = page.locator("textarea[name=rationale]").input_value()
        if normalise(kept) != normalise(placed.rationale):
            watch.vanished.append(f"{where}: textarea re-rendered {kept!r} for {placed.rationale!r}")

        # Then with the mouse: a tie needs no strength.
        page.get_by_role("radio", name="Tie").check()
        page.get_by_role("button", name="Submit").click()
        page.wait_for_function(NEXT_SHOWN, arg=f"/label/{assignment.pk}/submit/")


def walk_as_expert(
    page: Page, watch: Watch, base: str, payloads: list[Payload], layout: dict[str, Placed]
) -> dict[int, str]:
    """Home, guidelines, then the whole queue on the labelling page."""
    log_in(page, base, "xss-expert", PASSWORD)
    watch.self_test(page)
    watch.shown_exactly("expert home", Payload(CODENAME, False), page.inner_text("main"))
    visit(page, watch, f"{base}/p/nova/guidelines/", "guidelines page")
    shown = page.locator(".markdown").inner_text()
    for payload in payloads:
        watch.shown("guidelines page", payload, shown)
    visit(page, watch, f"{base}/p/nova/label/", "label page")
    if page.title() != f"{CODENAME} · LabelHub":
        watch.vanished.append(f"label page: title {page.title()!r}")
    shown = page.locator("aside .markdown").inner_text()
    for payload in payloads:
        watch.shown("label page guidelines", payload, shown)
    return label_every_item(page, watch, layout)


def walk_as_manager(page: Page, watch: Watch, base: str) -> None:
    """Home and the project's page, which shows its name and the client's."""
    log_in(page, base, "xss-manager", PASSWORD)
    watch.check(page, "manager home")
    visit(page, watch, f"{base}/p/nova/", "manager project page")
    shown = page.inner_text("main")
    for name in (PROJECT_NAME, CLIENT_NAME, CODENAME):
        watch.shown_exactly("manager project page", Payload(name, False), shown)


def walk_as_staff(
    page: Page,
    watch: Watch,
    base: str,
    payloads: list[Payload],
    layout: dict[str, Placed],
    guideline: Guideline,
    judged: dict[int, Placed],
) -> None:
    """The admin: lists, every item with its responses inline, the guideline, the colleague's
    annotations with their rationales."""
    log_in(page, base, "xss-admin", PASSWORD)
    watch.check(page, "staff home")
    project = guideline.project
    for path in (
        "projects/client/",
        "projects/project/",
        f"projects/project/{project.pk}/change/",
        "projects/item/",
        "projects/guideline/",
        "annotations/annotation/",
        "annotations/assignment/",
    ):
        visit(page, watch, f"{base}/admin/{path}", f"admin {path}")
    for item in Item.objects.filter(project=project).order_by("pk"):
        where = f"admin item {item.external_id}"
        visit(page, watch, f"{base}/admin/projects/item/{item.pk}/change/", where)
        # A labelled item is frozen: its content is shown as text rather than in fields.
        frozen = item.annotations.exists()
        prompt = (
            page.locator(".field-prompt .readonly").text_content()
            if frozen
            else page.locator("#id_prompt").input_value()
        )
        if json.loads(prompt) != item.prompt:
            watch.vanished.append(f"{where}: prompt field does not hold the imported prompt")
        for position, response in enumerate(layout[item.external_id].responses):
            shown = (
                page.locator(f"#responses-{position} td.field-content p").inner_text()
                if frozen
                else page.locator(f"#id_responses-{position}-content").input_value()
            )
            for payload in response:
                watch.shown_exactly(f"{where} response {position}", payload, shown)
    visit(page, watch, f"{base}/admin/projects/guideline/{guideline.pk}/change/", "admin guideline")
    shown = "\n".join(page.locator("div.readonly").all_inner_texts())
    for payload in payloads:
        watch.shown_exactly("admin guideline", payload, shown)
    for annotation in Annotation.objects.filter(project=project, expert__username="xss-colleague"):
        where = f"admin annotation {annotation.pk}"
        visit(page, watch, f"{base}/admin/annotations/annotation/{annotation.pk}/change/", where)
        shown = "\n".join(page.locator("div.readonly").all_inner_texts())
        for response in judged[annotation.item_id].responses:
            for payload in response:
                watch.shown_exactly(where, payload, shown)


@pytest.mark.browser
def test_xss_corpus_stays_inert_on_every_page_that_shows_it(
    live_server: LiveServer, page: Page, second_page: Page, browser_errors: BrowserErrors
) -> None:
    payloads = load_payloads()
    assert len(payloads) >= 60
    assert len({p.text for p in payloads}) == len(payloads), "duplicate payloads"
    assert all(p.probes for p in payloads if not p.may_strip), "a payload without a word to look for"

    project = ProjectFactory(
        client=ClientFactory(name=CLIENT_NAME, slug="acme-xss"),
        name=PROJECT_NAME,
        codename=CODENAME,
        code="nova",
        slug="acme-xss",
        labels_per_item=2,
        randomize_sides=False,
    )
    jsonl, layout = build_jsonl(payloads)
    parsed = parse_items(jsonl, fmt="jsonl")
    assert parsed.errors == []
    report = items_import(project=project, records=parsed.items)
    assert report.created == len(layout)
    guideline = guideline_publish(
        project=project, body="\n\n".join(p.text for p in payloads), author=UserFactory(username="author")
    )

    expert = member(project, "xss-expert", Membership.Role.EXPERT)
    member(project, "xss-manager", Membership.Role.MANAGER)
    colleague = member(project, "xss-colleague", Membership.Role.EXPERT)
    UserFactory(username="xss-admin", is_staff=True, is_superuser=True)
    # The colleague judges every item first, the item's response payloads as the rationale.
    judged: dict[int, Placed] = {}
    while (assignment := assignment_next(project=project, expert=colleague)) is not None:
        placed = layout[assignment.item.external_id]
        annotation_submit(
            assignment=assignment,
            expert=colleague,
            judgment=Judgment("tie", None, placed.rationale),
            idempotency_key=uuid.uuid4(),
        )
        judged[assignment.item_id] = placed
    assert len(judged) == len(layout)

    watch = Watch(browser_errors)
    watch.attach(page)
    watch.attach(second_page)
    try:
        typed = walk_as_expert(page, watch, live_server.url, payloads, layout)
        walk_as_manager(second_page, watch, live_server.url)
        second_page.context.clear_cookies()
        walk_as_staff(second_page, watch, live_server.url, payloads, layout, guideline, judged)
    except Exception as error:
        # Markup that came alive can break the page so that the walk cannot go on: say what
        # was found up to there, not only where it stopped.
        raise AssertionError(f"the walk stopped: {error}\n{watch.report()}") from error

    assert not (watch.findings or watch.csp_findings or watch.vanished), watch.report()
    assert watch.checkpoints > len(layout) * 4
    assert len(typed) == len(layout), "the expert was not shown every item"
    for annotation in Annotation.objects.filter(expert=expert):
        assert annotation.rationale.replace("\r\n", "\n") == typed[annotation.item_id].strip()
