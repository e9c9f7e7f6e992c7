"""Writing guidelines in the admin: start from the current text, preview, publish a new version."""

import pytest
from django.urls import reverse

from projects.models import Guideline, Membership
from projects.services import guideline_publish
from tests.conftest import member

ADD = "admin:projects_guideline_add"


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_the_add_form_starts_from_the_current_version(manager_client, acme):
    guideline_publish(project=acme, body="Version two: *cite sources*.", author=None)
    page = manager_client.get(reverse(ADD), {"project": acme.pk}).content.decode()
    assert "Version two: *cite sources*." in page and "Prefer correct answers" not in page
    assert f'<option value="{acme.pk}" selected>' in page
    assert 'name="_preview"' in page  # next to Save


def test_another_clients_guidelines_are_never_prefilled(manager_client, globex):
    guideline_publish(project=globex, body="Globex secret rules", author=None)
    page = manager_client.get(reverse(ADD), {"project": globex.pk}).content.decode()
    assert "Globex secret rules" not in page and globex.name not in page
    assert f'value="{globex.pk}"' not in page


def test_preview_renders_sanitised_markdown_and_saves_nothing(manager_client, acme):
    body = "# Rules\n\nBe **brief**.\n\n<script>alert('x')</script>\n\n[bad](javascript:alert(1))"
    response = manager_client.post(reverse(ADD), {"project": acme.pk, "body": body, "_preview": "Preview"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Rules</h1>" in page and "<strong>brief</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert 'href="javascript' not in page
    assert "Be **brief**." in page  # the posted text stays in the form
    assert acme.guidelines.count() == 1


def test_preview_of_a_foreign_project_shows_nothing_of_it(manager_client, globex):
    guideline_publish(project=globex, body="Globex secret rules", author=None)
    response = manager_client.post(reverse(ADD), {"project": globex.pk, "body": "mine", "_preview": "1"})
    page = response.content.decode()
    assert "Globex secret rules" not in page and globex.name not in page
    assert not Guideline.objects.filter(body="mine").exists()


def test_saving_publishes_the_next_version(manager_client, acme, manager):
    response = manager_client.post(reverse(ADD), {"project": acme.pk, "body": "## v2\nNew rules"})
    assert response.status_code == 302
    latest = acme.guidelines.order_by("-version").first()
    assert (latest.version, latest.body, latest.created_by) == (2, "## v2\nNew rules", manager)


def test_a_versions_page_shows_it_rendered(manager_client, acme):
    guideline = acme.guidelines.get(version=1)
    url = reverse("admin:projects_guideline_change", args=[guideline.pk])
    page = manager_client.get(url).content.decode()
    assert "<h1>Be <em>precise</em></h1>" in page and 'name="body"' not in page


def test_experts_outsiders_and_reviewers_cannot_preview(client, acme, annotator, outsider):
    data = {"project": acme.pk, "body": "x", "_preview": "Preview"}
    for user in (annotator, outsider):
        client.force_login(user)
        response = client.post(reverse(ADD), data)
        assert response.status_code == 302 and "/admin/login/" in response.url
    client.force_login(member(acme, "acme-reviewer", Membership.Role.REVIEWER))
    assert client.post(reverse(ADD), data).status_code == 403


def test_the_project_page_links_to_a_new_version(manager_client, acme):
    page = manager_client.get(reverse("admin:projects_project_change", args=[acme.pk])).content.decode()
    assert f'{reverse(ADD)}?project={acme.pk}"' in page and "New version of the guidelines" in page
