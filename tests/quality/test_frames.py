"""A project's judgments become agreement frames: read from labels made through the services."""

import random
import uuid

import pandas as pd
import pytest

from annotations.judging import ResponseRating
from annotations.models import Annotation
from annotations.services import Judgment, annotation_submit, assignment_next
from projects.models import Project, Response
from projects.rubrics import CriterionSpec, rubric_save
from quality.agreement import krippendorff_alpha
from quality.frames import choice_frame, judgment_frames, strength_frame
from tests.factories import ItemFactory


def judge(project, expert, choice, strength=None, *, rng=None, ratings=(), rubric_version=None):
    assignment = assignment_next(project=project, expert=expert, rng=rng)
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, strength, "", ratings=ratings, rubric_version=rubric_version),
        idempotency_key=uuid.uuid4(),
    )
    return assignment


def as_set(frame: pd.DataFrame) -> set[tuple]:
    return set(frame[["item", "expert", "value"]].itertuples(index=False, name=None))


@pytest.fixture
def judged(acme, acme_items, annotator, annotator2, globex, other_client_annotator):
    """Two experts on acme, sides shown in a random order; one judgment on the other client's project."""
    acme.labels_per_item = 2
    acme.randomize_sides = True
    acme.save()
    rng = random.Random(4)
    made = [
        (judge(acme, expert, choice, strength, rng=rng), choice, strength)
        for expert, choices in [
            (annotator, [("A", 3), ("tie", None), ("both_bad", None), ("B", 1)]),
            (annotator2, [("B", 2), ("A", 1), ("tie", None)]),
        ]
        for choice, strength in choices
    ]
    assert {assignment.shown_left for assignment, _, _ in made} == {0, 1}  # both sides were shown left
    ItemFactory(project=globex)
    judge(globex, other_client_annotator, "A", 2)
    return made


def in_item_terms(choice: str, shown_left: int) -> str:
    """The display choice as the item's own response: "A" is whichever was shown on the left."""
    if choice not in ("A", "B"):
        return choice
    return "a" if (choice == "A") == (shown_left == 0) else "b"


def test_the_choices_are_the_preferences_in_the_items_own_terms(acme, judged):
    frames = judgment_frames(acme)
    assert as_set(frames.choices) == {
        (assignment.item_id, assignment.expert_id, in_item_terms(choice, assignment.shown_left))
        for assignment, choice, _ in judged
    }
    assert as_set(frames.choices) == set(
        Annotation.objects.filter(project=acme).values_list("item_id", "expert_id", "preference")
    )


def test_the_strength_runs_from_a_much_better_to_b_much_better_and_leaves_both_bad_out(acme, judged):
    frames = judgment_frames(acme)
    sides = {"a": -1, "b": 1, "tie": 0}
    assert as_set(frames.strengths) == {
        (
            assignment.item_id,
            assignment.expert_id,
            sides[in_item_terms(choice, assignment.shown_left)] * (strength or 0),
        )
        for assignment, choice, strength in judged
        if choice != "both_bad"
    }
    assert frames.strengths["value"].dtype.kind == "i"
    assert frames.criteria == {}


def test_the_frames_hold_only_the_projects_judgments_and_narrow_to_those_asked(
    acme, judged, annotator, other_client_annotator
):
    everyone = judgment_frames(acme, annotations=Annotation.objects.all())
    assert other_client_annotator.pk not in set(everyone.choices["expert"])
    assert len(everyone.choices) == 7
    one = judgment_frames(acme, annotations=Annotation.objects.filter(expert=annotator))
    assert set(one.choices["expert"]) == {annotator.pk} and len(one.choices) == 4


def test_the_frames_are_read_in_three_queries_whatever_the_number_of_judgments(
    acme, judged, django_assert_num_queries
):
    with django_assert_num_queries(3):
        judgment_frames(acme)


@pytest.fixture
def rubric(acme, annotator, annotator2) -> Project:
    acme.kind = Project.Kind.RUBRIC
    acme.labels_per_item = 2
    acme.save()
    rubric_save(
        project=acme,
        criteria=[
            CriterionSpec("helpfulness", "Helpfulness", scale_min=1, scale_max=5),
            CriterionSpec("honesty", "Honesty", scale_min=0, scale_max=4, required=False),
        ],
    )
    ItemFactory(project=acme, external_id="r-1")
    rate = ResponseRating
    judge(
        acme,
        annotator,
        "",
        ratings=(
            rate(position=0, scores={"helpfulness": 5, "honesty": 4}),
            rate(position=1, scores={"helpfulness": 2}),
        ),
        rubric_version=1,
    )
    judge(
        acme,
        annotator2,
        "",
        ratings=(
            rate(position=0, scores={"helpfulness": 4, "honesty": 3}),
            rate(position=1, not_ratable=True, reason="Empty answer"),
        ),
        rubric_version=1,
    )
    return acme


def test_each_rubric_criterion_is_a_frame_of_scores_per_response(rubric, annotator, annotator2):
    frames = judgment_frames(rubric)
    first, second = (Response.objects.get(item__external_id="r-1", position=p).pk for p in (0, 1))
    assert list(frames.criteria) == ["helpfulness", "honesty"]
    assert as_set(frames.criteria["helpfulness"]) == {
        (first, annotator.pk, 5),
        (second, annotator.pk, 2),
        (first, annotator2.pk, 4),
    }
    # Left unscored, or flagged as not ratable: no value.
    assert as_set(frames.criteria["honesty"]) == {(first, annotator.pk, 4), (first, annotator2.pk, 3)}
    assert frames.choices.empty and frames.strengths.empty
    assert krippendorff_alpha(frames.criteria["helpfulness"], level="interval", min_items=1) is not None


def test_a_preference_without_strength_has_no_place_on_the_strength_scale():
    judged = pd.DataFrame(
        [(1, 7, "a", 2), (2, 7, "b", None), (3, 7, "tie", None), (4, 7, "both_bad", None), (5, 7, "", None)],
        columns=["item", "expert", "preference", "strength"],
    )
    assert as_set(strength_frame(judged)) == {(1, 7, -2), (3, 7, 0)}
    assert as_set(choice_frame(judged)) == {(1, 7, "a"), (2, 7, "b"), (3, 7, "tie"), (4, 7, "both_bad")}
