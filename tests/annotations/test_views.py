import uuid

import pytest
from django.urls import reverse

from annotations.models import Annotation, Assignment
from annotations.services import assignment_next
from projects.services import guideline_publish
from tests.factories import FixedDraws, ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\u2062\u2063"))


def visible(response) -> str:
    """The page as a reader sees it: the guidelines' invisible fingerprint marks removed."""
    return response.content.decode().translate(INVISIBLE)


@pytest.fixture
def expert_client(client, annotator):
    client.force_login(annotator)
    return client


def submit_data(assignment, choice="A", strength="2", key=None, **extra) -> dict:
    return {
        "choice": choice,
        "strength": strength,
        "rationale": "Because.",
        "active_seconds": "12",
        "idempotency_key": str(key or uuid.uuid4()),
        **extra,
    }


def test_my_projects_lists_codenames_with_items_left_and_never_the_client(expert_client, acme_items):
    page = expert_client.get(reverse("annotations:home")).content.decode()
    assert "Aurora" in page
    assert "Acme" not in page and "acme-helpfulness" not in page.replace("/p/acme-helpfulness/", "")
    assert 'data-testid="left-Aurora">5<' in page


def test_my_projects_counts_a_gold_check_like_any_item_before_and_after_it_is_answered(
    expert_client, acme, acme_items, annotator
):
    ItemFactory(project=acme, external_id="check-1", is_gold=True, gold_answer={"preference": "a"})
    home = reverse("annotations:home")
    # Without a gold rate the check is never served, so it is not counted either.
    assert 'data-testid="left-Aurora">5<' in expert_client.get(home).content.decode()
    acme.gold_percent = 20
    acme.save()
    assert 'data-testid="left-Aurora">6<' in expert_client.get(home).content.decode()
    held = assignment_next(project=acme, expert=annotator, rng=FixedDraws(0.0))  # a check is due now
    assert held.item.is_gold
    response = expert_client.post(reverse("annotations:submit", args=[acme.code, held.pk]), submit_data(held))
    assert response.status_code == 302 and Annotation.objects.filter(assignment=held).exists()
    assert 'data-testid="left-Aurora">5<' in expert_client.get(home).content.decode()


def test_the_labelling_page_shows_both_responses_and_the_controls_but_not_the_models(
    expert_client, acme, acme_items
):
    response = expert_client.get(reverse("annotations:label", args=[acme.code]))
    page = visible(response)
    assert response.status_code == 200
    for text in (
        "A is better",
        "B is better",
        "Tie",
        "Both are bad",
        "Rationale",
        "Submit",
        "Skip",
        "First answer to a-0",
        "Second answer to a-0",
        "Be <em>precise</em>",
    ):
        assert text in page
    assert "model-x" not in page and "model-y" not in page
    assert "Acme" not in page


def test_untrusted_markdown_is_rendered_without_running_html(expert_client, acme, annotator):

    ItemFactory(
        project=acme,
        prompt="<script>alert(1)</script> **bold**",
        responses=[("```python\nprint('<b>')\n```", ""), ('<img src=x onerror="alert(2)">', "")],
    )
    page = expert_client.get(reverse("annotations:label", args=[acme.code])).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<strong>bold</strong>" in page
    assert "<img" not in page
    assert 'class="codehilite"' in page


def test_an_htmx_submit_stores_the_label_and_swaps_in_the_next_item(
    expert_client, acme, acme_items, annotator
):
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:submit", args=[acme.code, assignment.pk])
    response = expert_client.post(url, submit_data(assignment), **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="task"') and "<html" not in page
    assert "Saved." in page and "First answer to a-1" in page
    annotation = Annotation.objects.get()
    assert (annotation.preference, annotation.strength, annotation.active_seconds) == ("a", 2, 12)


def test_a_plain_form_submit_redirects_to_the_next_item(expert_client, acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    response = expert_client.post(
        reverse("annotations:submit", args=[acme.code, assignment.pk]), submit_data(assignment)
    )
    assert response.status_code == 302
    assert response.url == reverse("annotations:label", args=[acme.code])


def test_a_double_clicked_submit_stores_one_annotation_and_both_requests_succeed(
    expert_client, acme, acme_items, annotator
):
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:submit", args=[acme.code, assignment.pk])
    data = submit_data(assignment)
    assert expert_client.post(url, data, **HTMX).status_code == 200
    assert expert_client.post(url, data, **HTMX).status_code == 200
    assert Annotation.objects.count() == 1


def test_an_invalid_submit_keeps_what_was_typed_and_says_what_is_wrong(
    expert_client, acme, acme_items, annotator
):
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:submit", args=[acme.code, assignment.pk])
    response = expert_client.post(url, submit_data(assignment, strength="", rationale="Keep me"), **HTMX)
    page = response.content.decode()
    assert response.status_code == 422
    assert "Say how much better" in page and "Keep me" in page
    assert 'value="A" data-key="1" checked' in page
    assert Annotation.objects.count() == 0


def test_skipping_asks_for_a_reason_and_serves_the_next_item(expert_client, acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:skip", args=[acme.code, assignment.pk])
    assert expert_client.post(url, {"reason": "bogus"}, **HTMX).status_code == 422
    response = expert_client.post(url, {"reason": "expertise", "note": "tax law"}, **HTMX)
    assert "Skipped." in response.content.decode()
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SKIPPED


def test_when_nothing_is_left_the_expert_sees_a_clear_empty_state(expert_client, acme):
    page = expert_client.get(reverse("annotations:label", args=[acme.code])).content.decode()
    assert "All done in Aurora" in page


def test_the_guidelines_page_shows_the_current_version(expert_client, acme):

    guideline_publish(project=acme, body="Version *two*", author=None)
    page = visible(expert_client.get(reverse("annotations:guidelines", args=[acme.code])))
    assert "Version 2" in page and "Version <em>two</em>" in page


# --- the firewall: outsiders get 404 everywhere, members without the right get 403 ---


def project_urls(project, assignment_id: int = 1) -> list[tuple[str, str]]:
    code = project.code
    return [
        ("get", reverse("annotations:label", args=[code])),
        ("get", reverse("annotations:guidelines", args=[code])),
        ("get", reverse("annotations:project", args=[code])),
        ("post", reverse("annotations:export", args=[code])),
        ("post", reverse("annotations:submit", args=[code, assignment_id])),
        ("post", reverse("annotations:skip", args=[code, assignment_id])),
    ]


def test_an_outsider_gets_404_on_every_project_page(client, outsider, acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    client.force_login(outsider)
    for method, url in project_urls(acme, assignment.pk):
        assert getattr(client, method)(url, {"format": "pairs"}).status_code == 404, url


def test_another_clients_expert_gets_404_on_every_project_page(
    client, other_client_annotator, acme, acme_items, annotator
):
    assignment = assignment_next(project=acme, expert=annotator)
    client.force_login(other_client_annotator)
    for method, url in project_urls(acme, assignment.pk):
        assert getattr(client, method)(url, submit_data(assignment)).status_code == 404, url
    assert Annotation.objects.count() == 0


def test_an_expert_cannot_submit_on_another_experts_assignment(
    client, acme, acme_items, annotator, annotator2
):
    assignment = assignment_next(project=acme, expert=annotator)
    client.force_login(annotator2)
    response = client.post(
        reverse("annotations:submit", args=[acme.code, assignment.pk]), submit_data(assignment)
    )
    assert response.status_code == 404
    assert Annotation.objects.count() == 0


def test_an_expert_gets_403_on_the_progress_page_and_the_export(expert_client, acme):
    assert expert_client.get(reverse("annotations:project", args=[acme.code])).status_code == 403
    assert (
        expert_client.post(reverse("annotations:export", args=[acme.code]), {"format": "pairs"}).status_code
        == 403
    )


def test_a_manager_cannot_label(client, manager, acme, acme_items):
    client.force_login(manager)
    assert client.get(reverse("annotations:label", args=[acme.code])).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, acme):
    for method, url in project_urls(acme):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_get_never_changes_anything_on_write_endpoints(expert_client, acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    for name in ("annotations:submit", "annotations:skip"):
        assert expert_client.get(reverse(name, args=[acme.code, assignment.pk])).status_code == 405
    assert expert_client.get(reverse("annotations:export", args=[acme.code])).status_code == 405
