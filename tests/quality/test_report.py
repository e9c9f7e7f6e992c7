"""The quality figures reach managers and client viewers, in the API, as the statistics give them."""

import random
import uuid

import pytest
from django.urls import reverse

from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item
from quality.agreement import agreement_figures, expert_consensus
from quality.frames import judgment_frames
from tests.conftest import api_for
from tests.factories import ItemFactory

CHOICES = ["A", "B", "A", "A", "B", "tie", "A", "B", "B", "A", "A", "both_bad"]


def judge_all(project, expert, choices, rng):
    for choice in choices:
        assignment = assignment_next(project=project, expert=expert, rng=rng)
        annotation_submit(
            assignment=assignment,
            expert=expert,
            judgment=Judgment(choice, 2 if choice in ("A", "B") else None, ""),
            idempotency_key=uuid.uuid4(),
        )


@pytest.fixture
def judged(acme, annotator, annotator2):
    """12 items, both experts on each (the second disagreeing on two), two of them gold checks."""
    acme.labels_per_item = 2
    acme.randomize_sides = True
    acme.save()
    for n in range(len(CHOICES)):
        ItemFactory(project=acme, external_id=f"q-{n}")
    rng = random.Random(7)
    judge_all(acme, annotator, CHOICES, rng)
    judge_all(acme, annotator2, [*CHOICES[:10], "B", "B"], rng)
    first_two = Item.objects.filter(project=acme).order_by("pk")[:2]
    for item in first_two:
        answer = item.annotations.get(expert=annotator).preference
        Item.objects.filter(pk=item.pk).update(is_gold=True, gold_answer={"preference": answer})
    return acme


def quality_url(project):
    return reverse("quality:api-quality", kwargs={"slug": project.slug})


def test_managers_get_the_agreement_figures_and_a_row_per_expert(judged, manager, annotator, annotator2):
    response = api_for(manager).get(quality_url(judged))
    assert response.status_code == 200
    body = response.json()
    frames = judgment_frames(judged)
    expected = agreement_figures(choices=frames.choices, strengths=frames.strengths, criteria=frames.criteria)
    expected.pop("krippendorff_alpha_interval")
    assert body["agreement"] == pytest.approx(expected)
    assert 0 < body["agreement"]["percent"] < 1 and body["agreement"]["fleiss_kappa"] is not None
    rows = {row["username"]: row for row in body["experts"]}
    assert set(rows) == {annotator.username, annotator2.username}
    first = rows[annotator.username]
    assert first["annotator"] == annotator_pseudonym(project_id=judged.pk, user_id=annotator.pk)
    assert (first["labels"], first["gold_answered"], first["gold_accuracy"]) == (12, 2, 1.0)
    low, high = first["gold_interval"]
    assert 0 < low < 1 == high
    assert first["status"] == "active"
    assert 0 <= first["left_share"] <= 1 and 0 < first["left_p_value"] <= 1
    consensus = expert_consensus(frames.choices)["agreement"]
    for user in (annotator, annotator2):
        assert rows[user.username]["agreement_with_consensus"] == pytest.approx(consensus[user.pk])


def test_client_viewers_see_pseudonyms_only_and_experts_and_outsiders_nothing(
    judged, viewer, annotator, outsider, other_client_annotator
):
    body = api_for(viewer).get(quality_url(judged)).json()
    assert all("username" not in row for row in body["experts"])
    assert annotator.username not in str(body)
    # Experts know a project by its codename only: its slug names nothing to them.
    assert api_for(annotator).get(quality_url(judged)).status_code == 404
    assert api_for(outsider).get(quality_url(judged)).status_code == 404
    assert api_for(other_client_annotator).get(quality_url(judged)).status_code == 404


def test_figures_with_too_little_data_are_null_never_zero(acme, acme_items, manager, annotator):
    judge_all(acme, annotator, ["A", "B"], random.Random(1))
    body = api_for(manager).get(quality_url(acme)).json()
    assert set(body["agreement"].values()) == {None}
    [row] = body["experts"]
    assert row["labels"] == 2 and row["gold_accuracy"] is None and row["gold_interval"] is None
    assert row["agreement_with_consensus"] is None


def test_a_project_without_labels_has_no_experts_and_null_figures(acme, manager):
    body = api_for(manager).get(quality_url(acme)).json()
    assert body["experts"] == [] and set(body["agreement"].values()) == {None}


def page_url(project):
    return reverse("quality:project", args=[project.code])


def test_the_quality_page_shows_managers_the_figures_and_who_each_expert_is(
    client, judged, manager, annotator
):
    client.force_login(manager)
    overview = client.get(reverse("annotations:project", args=[judged.code])).content.decode()
    assert page_url(judged) in overview
    page = client.get(page_url(judged)).content.decode()
    assert "Fleiss' κ" in page and page.count('data-testid="quality-expert-row"') == 2
    assert annotator.username in page and "100% (" in page  # the gold accuracy with its interval


def test_client_viewers_see_pseudonyms_and_experts_and_outsiders_get_nothing(
    client, judged, viewer, annotator, outsider
):
    client.force_login(viewer)
    page = client.get(page_url(judged)).content.decode()
    assert annotator_pseudonym(project_id=judged.pk, user_id=annotator.pk) in page
    assert annotator.username not in page
    client.force_login(annotator)
    assert client.get(page_url(judged)).status_code == 403
    client.force_login(outsider)
    assert client.get(page_url(judged)).status_code == 404


def test_the_page_says_when_there_is_not_enough_data(client, acme, manager):
    client.force_login(manager)
    page = client.get(page_url(acme)).content.decode()
    assert "not enough data" in page and "Nobody has labelled anything yet." in page


def test_the_characters_read_count_a_prompts_text_or_its_messages_and_nothing_else():
    from quality.signals import prompt_chars

    assert prompt_chars("abc") == 3
    assert prompt_chars([{"role": "user", "content": "ab"}, {"role": "assistant", "content": "c"}]) == 3
    assert prompt_chars(42) == prompt_chars(None) == 0


def test_the_quality_page_is_under_the_per_user_rate(client, judged, manager, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1/min", "anon": "1/min"})
    client.force_login(manager)
    assert client.get(page_url(judged)).status_code == 200
    assert client.get(page_url(judged)).status_code == 429
