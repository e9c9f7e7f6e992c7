import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotations.models import Annotation, Assignment, Rating
from projects.importing import parse_items
from projects.models import Project, RubricCriterion
from projects.rubrics import CriterionSpec, current_criteria, current_version, rubric_save
from tests.factories import ItemFactory

HELPFUL = CriterionSpec("helpfulness", "Helpfulness", "Does it help?", 1, 5)
HONEST = CriterionSpec("honesty", "Honesty", scale_min=0, scale_max=4, required=False, asks_rationale=True)


@pytest.fixture
def rubric_project(acme) -> Project:
    acme.kind = Project.Kind.RUBRIC
    acme.save()
    return acme


def rate(project: Project, expert, version: int) -> Rating:
    item = ItemFactory(project=project)
    now = timezone.now()
    assignment = Assignment.objects.create(
        project=project, item=item, expert=expert, leased_at=now, expires_at=now, status="submitted"
    )
    annotation = Annotation.objects.create(project=project, item=item, expert=expert, assignment=assignment)
    return Rating.objects.create(
        annotation=annotation,
        response=item.responses.first(),
        rubric_version=version,
        scores={"helpfulness": 4},
    )


def test_the_first_rubric_is_version_one_in_the_given_order(rubric_project):
    assert rubric_save(project=rubric_project, criteria=[HONEST, HELPFUL]) == 1
    assert [c.key for c in current_criteria(rubric_project)] == ["honesty", "helpfulness"]


def test_saving_the_same_criteria_again_changes_nothing(rubric_project):
    rubric_save(project=rubric_project, criteria=[HELPFUL])
    first_ids = [c.pk for c in current_criteria(rubric_project)]
    assert rubric_save(project=rubric_project, criteria=[HELPFUL]) == 1
    assert [c.pk for c in current_criteria(rubric_project)] == first_ids


def test_an_unrated_version_is_edited_in_place(rubric_project):
    rubric_save(project=rubric_project, criteria=[HELPFUL])
    assert rubric_save(project=rubric_project, criteria=[HELPFUL, HONEST]) == 1
    assert RubricCriterion.objects.filter(project=rubric_project).count() == 2


def test_editing_a_rated_rubric_makes_a_new_version_and_old_ratings_keep_theirs(rubric_project, annotator):
    rubric_save(project=rubric_project, criteria=[HELPFUL])
    rating = rate(rubric_project, annotator, version=1)
    assert rubric_save(project=rubric_project, criteria=[HELPFUL, HONEST]) == 2
    assert current_version(rubric_project) == 2
    assert [c.key for c in current_criteria(rubric_project)] == ["helpfulness", "honesty"]
    assert list(rubric_project.criteria.filter(version=1).values_list("key", flat=True)) == ["helpfulness"]
    rating.refresh_from_db()
    assert rating.rubric_version == 1


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (CriterionSpec("x", "X", scale_min=3, scale_max=3), "scale_max"),
        (CriterionSpec("x", "X", scale_min=1, scale_max=3, scale_texts="bad\ngood"), "scale_texts"),
        (CriterionSpec("not a slug!", "X"), "key"),
    ],
)
def test_a_malformed_criterion_is_refused_with_a_field_error(rubric_project, spec, field):
    with pytest.raises(ValidationError) as refused:
        rubric_save(project=rubric_project, criteria=[spec])
    assert field in refused.value.message_dict
    assert not RubricCriterion.objects.exists()


def test_scale_texts_label_each_point(rubric_project):
    rubric_save(
        project=rubric_project,
        criteria=[
            CriterionSpec(
                "c", "Clarity", scale_min=1, scale_max=3, scale_texts="Muddled\nClear enough\nCrystal"
            )
        ],
    )
    assert current_criteria(rubric_project)[0].points == [(1, "Muddled"), (2, "Clear enough"), (3, "Crystal")]


def item_line(n_responses: int) -> str:
    return json.dumps(
        {"id": "x", "prompt": "p", "responses": [{"content": f"answer {n}"} for n in range(n_responses)]}
    )


@pytest.mark.parametrize("count", [1, 2, 4, 7])
def test_rubric_projects_take_one_or_more_responses(count):
    result = parse_items(item_line(count), fmt="jsonl", kind="rubric")
    assert not result.errors and len(result.items[0].responses) == count


@pytest.mark.parametrize(("kind", "count"), [("pairwise", 1), ("pairwise", 4), ("both", 3)])
def test_comparison_projects_need_exactly_two_responses_and_say_so(kind, count):
    result = parse_items(item_line(count), fmt="jsonl", kind=kind)
    assert "exactly 2 responses" in result.errors[0].message and f"got {count}" in result.errors[0].message


def test_csv_carries_more_responses_in_further_columns():
    text = (
        "id,prompt,response_a,response_b,response_c,model_a,model_b,model_c\nq,Why?,one,two,three,m1,m2,m3\n"
    )
    result = parse_items(text, fmt="csv", kind="rubric")
    assert result.items[0].responses == [("one", "m1"), ("two", "m2"), ("three", "m3")]


def test_a_manager_edits_the_rubric_inline_on_the_project_and_a_rated_one_gets_a_new_version(
    client, manager, rubric_project, annotator
):
    rubric_save(project=rubric_project, criteria=[HELPFUL])
    rate(rubric_project, annotator, version=1)
    criterion = current_criteria(rubric_project)[0]
    client.force_login(manager)
    form = {
        "name": rubric_project.name,
        "codename": rubric_project.codename,
        "code": rubric_project.code,
        "kind": "rubric",
        "status": "active",
        "labels_per_item": "1",
        "strength_scale": "three",
        "lease_minutes": "30",
        "gold_percent": "0",
        "qualification_items": "0",
        "qualification_pass_percent": "80",
        "qualification_cooloff_days": "",
        "gold_min": "10",
        "gold_bar_percent": "70",
        "min_seconds_per_1k_chars": "10",
        "required_domain": "",
        "price_per_label": "",
        "criteria-TOTAL_FORMS": "1",
        "criteria-INITIAL_FORMS": "1",
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
        "criteria-0-id": criterion.pk,
        "criteria-0-project": rubric_project.pk,
        "criteria-0-key": "helpfulness",
        "criteria-0-label": "Helpfulness (revised)",
        "criteria-0-description": "",
        "criteria-0-scale_min": "1",
        "criteria-0-scale_max": "5",
        "criteria-0-scale_texts": "",
        "criteria-0-required": "on",
    }
    response = client.post(
        reverse("admin:projects_project_change", args=[rubric_project.pk]), form, follow=True
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "your changes are version 2" in response.content.decode()
    assert [c.label for c in current_criteria(rubric_project)] == ["Helpfulness (revised)"]
    assert rubric_project.criteria.get(version=1).label == "Helpfulness"
