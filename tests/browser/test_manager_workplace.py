"""A manager sets up a rubric project in the admin; an expert rates its first item with the keyboard."""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from annotations.models import Annotation, Rating
from projects.models import Item, Membership, Project
from projects.rubrics import current_criteria
from tests.browser.conftest import BrowserErrors, log_in

SCREENSHOTS = Path(__file__).parent / "screenshots"
CRITERIA = [("accuracy", "Accuracy"), ("clarity", "Clarity")]
# One key per criterion of each response: responses in item order, criteria in rubric order.
KEYS = ["4", "5", "3", "2", "1", "5"]


def screenshot(page: Page, name: str) -> None:
    # Playwright's default caret hiding leaves style="" on every input; keep the page untouched.
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True, caret="initial")


def label(text: str) -> re.Pattern:
    """An admin field's label, with or without Django's trailing colon."""
    return re.compile(rf"^{re.escape(text)}:?$")


def items_file(tmp_path: Path) -> Path:
    path = tmp_path / "nimbus.jsonl"
    records = [
        {
            "id": f"nimbus-{n}",
            "prompt": f"Question {n}: how do tides work?",
            "responses": [{"content": f"Answer {r} to question {n}.", "model": f"m{r}"} for r in range(3)],
        }
        for n in range(2)
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def admin_create_rubric_project(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/")
    page.locator("#projects-project").get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="Add project").click()
    page.get_by_label(label("Client")).select_option(label="Acme Labs")
    # A manager types no slug or code: they are made for the project from name and codename.
    page.get_by_label(label("Name")).press_sequentially("Acme weather rubric")
    page.get_by_label(label("Codename")).press_sequentially("Nimbus")
    page.get_by_label(label("Kind")).select_option(label="Rubric rating")
    expect(page.get_by_label(label("Slug"))).to_have_count(0)
    expect(page.get_by_label(label("Code"))).to_have_count(0)
    page.get_by_label(label("Labels per item")).fill("1")
    for index, (key, text) in enumerate(CRITERIA):
        page.get_by_role("button", name="Add another Rubric criterion").click()
        row = page.locator(f"#criteria-{index}")
        row.get_by_label(label("Key")).fill(key)
        row.get_by_label(label("Label")).fill(text)
        row.get_by_label(label("Scale min")).fill("1")
        row.get_by_label(label("Scale max")).fill("5")
    screenshot(page, "admin-project-add-rubric.png")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")


def admin_import_items(page: Page, base: str, path: Path, project: Project) -> None:
    page.goto(f"{base}/admin/projects/item/")
    page.get_by_role("link", name="Import items").click()
    choice = f"Acme Labs — Acme weather rubric ({project.slug})"
    page.get_by_label(label("Project")).select_option(label=choice)
    page.get_by_label(label("File")).set_input_files(path)
    page.get_by_role("button", name="Check file").click()
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-errors")).to_have_text("0")
    page.get_by_role("button", name="Import 2 items").click()
    expect(page.locator(".messagelist .success")).to_contain_text(
        "Imported nimbus.jsonl into Acme weather rubric: 2 created, 0 updated, 0 unchanged."
    )


def admin_add_expert(page: Page, base: str, project: Project) -> None:
    page.goto(f"{base}/admin/projects/membership/")
    page.get_by_role("link", name="Add membership").click()
    page.get_by_label(label("Project")).select_option(label=project.slug)
    page.get_by_label(label("Username")).fill("acme-expert")
    page.get_by_label(label("Role")).select_option(label="Expert")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")


@pytest.mark.browser
def test_manager_sets_up_a_rubric_project_and_expert_rates_with_the_keyboard(
    live_server: LiveServer, page: Page, browser_errors: BrowserErrors, settings, tmp_path: Path
) -> None:
    settings.ITEM_IMPORT_DIR = tmp_path / "imports"
    call_command("seed_demo", stdout=io.StringIO())
    base = live_server.url

    # The admin's own login page: a manager has no is_staff flag and must still get in.
    page.goto(f"{base}/admin/login/")
    page.get_by_label(label("Username")).fill("acme-manager")
    page.get_by_label(label("Password")).fill("labelhub-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Projects and people")).to_be_visible()

    admin_create_rubric_project(page, base)
    project = Project.objects.get(client__name="Acme Labs", codename="Nimbus")
    assert project.kind == Project.Kind.RUBRIC
    assert project.slug.startswith("acme-weather-rubric-") and project.code.startswith("nimbus-")
    criteria = current_criteria(project)
    assert [(c.key, c.label, c.scale_min, c.scale_max, c.version) for c in criteria] == [
        ("accuracy", "Accuracy", 1, 5, 1),
        ("clarity", "Clarity", 1, 5, 1),
    ]

    admin_import_items(page, base, items_file(tmp_path), project)
    assert Item.objects.filter(project=project).count() == 2

    admin_add_expert(page, base, project)
    assert Membership.objects.filter(
        project=project, user__username="acme-expert", role=Membership.Role.EXPERT, ended_at=None
    ).exists()

    page.get_by_role("button", name="Log out").click()
    log_in(page, base, "acme-expert")
    expect(page.get_by_test_id("left-Nimbus")).to_have_text("2")
    page.get_by_role("row", name=re.compile("Nimbus")).get_by_role("link", name="Start").click()

    expect(page.get_by_role("heading", name="Response 3")).to_be_visible()
    expect(page.locator("fieldset[data-keygroup]")).to_have_count(6)
    for key in KEYS:
        page.keyboard.press(key)
    for n, key in enumerate(KEYS):
        response, (_, text) = n // 2 + 1, CRITERIA[n % 2]
        expect(page.get_by_role("radio", name=f"{text} {key}").nth(response - 1)).to_be_checked()
    screenshot(page, "rating-before-submit.png")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("status")).to_have_text("Saved.")

    annotation = Annotation.objects.get(project=project, expert__username="acme-expert")
    ratings = Rating.objects.filter(annotation=annotation).order_by("response__position")
    assert [(r.response.position, r.scores, r.rubric_version, r.not_ratable) for r in ratings] == [
        (position, {"accuracy": int(KEYS[2 * position]), "clarity": int(KEYS[2 * position + 1])}, 1, False)
        for position in range(3)
    ]
    assert browser_errors.messages == []
