import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotations.services import Judgment, annotation_submit, assignment_next
from tests.factories import FixedDraws, ItemFactory


def label(project, expert, rng=None) -> None:
    assignment = assignment_next(project=project, expert=expert, rng=rng)
    annotation_submit(
        assignment=assignment, expert=expert, judgment=Judgment("A", 1, ""), idempotency_key=uuid.uuid4()
    )


@pytest.fixture
def progressed(acme, acme_items, annotator, annotator2):
    """5 items, overlap 2: a-0 complete, a-1 in progress, the rest not started."""
    acme.labels_per_item = 2
    acme.save()
    label(acme, annotator)
    label(acme, annotator2)
    label(acme, annotator)
    return acme


def test_the_admin_project_page_shows_progress_at_a_glance_with_links(client, manager, progressed):
    client.force_login(manager)
    page = client.get(reverse("admin:projects_project_change", args=[progressed.pk])).content.decode()
    assert "<strong>5</strong> items" in page
    assert "1 complete</a> (20%)" in page and "1 in progress</a>" in page and "3 not started</a>" in page
    assert "3 annotations</a>" in page and "acme-expert (2)" in page and "acme-expert2 (1)" in page
    assert f"?project__id__exact={progressed.pk}&amp;labelling=complete" in page


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("complete", {"a-0"}),
        ("in_progress", {"a-1"}),
        ("not_started", {"a-2", "a-3", "a-4"}),
    ],
)
def test_the_item_list_filters_by_labelling_status(client, manager, progressed, status, expected):
    client.force_login(manager)
    response = client.get(reverse("admin:projects_item_changelist"), {"labelling": status})
    shown = {item.external_id for item in response.context["cl"].result_list}
    assert shown == expected


def test_the_item_and_annotation_lists_filter_by_gold_domain_and_expert(client, manager, acme, annotator):
    ItemFactory(project=acme, external_id="g-1", is_gold=True, gold_answer={"preference": "a"}, domain="")
    ItemFactory(project=acme, external_id="n-1")
    acme.gold_percent = 10
    acme.save()
    label(acme, annotator, rng=FixedDraws(0.0))  # the gold check comes first
    client.force_login(manager)
    items = client.get(reverse("admin:projects_item_changelist"), {"is_gold__exact": "1"}).context["cl"]
    assert [item.external_id for item in items.result_list] == ["g-1"]
    annotations = client.get(
        reverse("admin:annotations_annotation_changelist"),
        {"item__is_gold__exact": "1", "expert__id__exact": annotator.pk},
    ).context["cl"]
    assert [a.item.external_id for a in annotations.result_list] == ["g-1"]


@pytest.mark.parametrize("answer", [None, {}, {"preference": "left"}, ["a"]])
def test_a_gold_item_needs_a_valid_expected_answer(acme, answer):
    item = ItemFactory(project=acme)
    item.is_gold, item.gold_answer = True, answer
    with pytest.raises(ValidationError) as refused:
        item.full_clean()
    assert "gold_answer" in refused.value.message_dict
