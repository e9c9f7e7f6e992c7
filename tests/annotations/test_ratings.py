import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotations.exports.ratings import export_ratings
from annotations.judging import ResponseRating
from annotations.models import Annotation, Rating
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project
from projects.rubrics import CriterionSpec, rubric_save
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
CRITERIA = [
    CriterionSpec("helpfulness", "Helpfulness", scale_min=1, scale_max=5),
    CriterionSpec("honesty", "Honesty", scale_min=0, scale_max=4, required=False, asks_rationale=True),
]


@pytest.fixture
def rubric(acme) -> Project:
    acme.kind = Project.Kind.RUBRIC
    acme.save()
    rubric_save(project=acme, criteria=CRITERIA)
    ItemFactory(
        project=acme,
        external_id="r-1",
        responses=[("one", "m1"), ("two", "m2"), ("three", "m3"), ("four", "m4")],
    )
    return acme


def all_rated(scores: dict | None = None, **extra) -> tuple[ResponseRating, ...]:
    return tuple(
        ResponseRating(position=p, scores=scores or {"helpfulness": 4, "honesty": 3}, **extra)
        for p in range(4)
    )


def submit(project, expert, ratings, version=1):
    assignment = assignment_next(project=project, expert=expert)
    return annotation_submit(
        assignment=assignment,
        expert=expert,
        idempotency_key=uuid.uuid4(),
        judgment=Judgment("", None, "", ratings=ratings, rubric_version=version),
    )


def test_a_rating_of_every_response_is_stored_under_one_annotation(rubric, annotator):
    ratings = (*all_rated()[:3], ResponseRating(position=3, not_ratable=True, reason="Empty answer"))
    annotation = submit(rubric, annotator, ratings).annotation
    assert annotation.preference == "" and annotation.ratings.count() == 4
    flagged = annotation.ratings.get(response__position=3)
    assert (flagged.not_ratable, flagged.not_ratable_reason, flagged.scores) == (True, "Empty answer", {})
    assert annotation.ratings.get(response__position=0).scores == {"helpfulness": 4, "honesty": 3}


@pytest.mark.parametrize(
    ("ratings", "field"),
    [
        (all_rated({"honesty": 3}), "r0-helpfulness"),  # a required criterion left out
        (all_rated({"helpfulness": 6}), "r0-helpfulness"),  # above the scale
        (all_rated({"helpfulness": 3, "honesty": -1}), "r0-honesty"),  # below the scale
        (all_rated({"helpfulness": 3, "kindness": 2}), "r0"),  # not a criterion of this rubric
        (all_rated()[:3], "ratings"),  # a response left unrated
        ((ResponseRating(position=0, not_ratable=True), *all_rated()[1:]), "r0-reason"),  # no reason
    ],
)
def test_a_rating_the_rubric_does_not_allow_is_refused_by_field(rubric, annotator, ratings, field):
    with pytest.raises(ValidationError) as refused:
        submit(rubric, annotator, ratings)
    assert field in refused.value.message_dict
    assert not Annotation.objects.exists() and not Rating.objects.exists()


def test_a_rating_made_under_an_old_rubric_version_is_refused(rubric, annotator):
    with pytest.raises(ValidationError) as refused:
        submit(rubric, annotator, all_rated(), version=7)
    assert "changed to version 1" in refused.value.message_dict["ratings"][0]


def test_a_rationale_only_where_the_criterion_asks_for_one(rubric, annotator):
    bad = tuple(
        ResponseRating(position=p, scores={"helpfulness": 2}, rationales={"helpfulness": "why"})
        for p in range(4)
    )
    with pytest.raises(ValidationError) as refused:
        submit(rubric, annotator, bad)
    assert "r0-helpfulness-rationale" in refused.value.message_dict


def test_pasted_characters_count_within_the_criterion_rationales_that_are_kept(rubric, annotator):
    """The overall rationale and the criteria's (trimmed, as stored); a response marked not ratable
    keeps none of its notes, so what was pasted there cannot count."""
    noted = ResponseRating(position=0, scores={"helpfulness": 2}, rationales={"honesty": " cites it "})
    dropped = ResponseRating(
        position=1, not_ratable=True, reason="Empty", rationales={"honesty": "a long note not kept"}
    )
    ratings = (noted, dropped, *all_rated()[2:])

    def judgment(pasted: int) -> Judgment:
        return Judgment("", None, "Fine.", ratings=ratings, rubric_version=1, pasted_chars=pasted)

    assignment = assignment_next(project=rubric, expert=annotator)
    with pytest.raises(ValidationError) as refused:
        annotation_submit(
            assignment=assignment, expert=annotator, idempotency_key=uuid.uuid4(), judgment=judgment(14)
        )
    assert refused.value.message_dict == {
        "pasted_chars": [
            "The pasted characters must be a whole number from 0 to the length of the rationales (13 here)."
        ]
    }
    stored = annotation_submit(
        assignment=assignment, expert=annotator, idempotency_key=uuid.uuid4(), judgment=judgment(13)
    ).annotation
    assert Annotation.objects.get(pk=stored.pk).pasted_chars == 13


def test_the_ratings_export_has_one_line_per_expert_and_response_with_fixed_keys(
    rubric, annotator, annotator2
):
    rubric.labels_per_item = 2
    rubric.save()
    submit(rubric, annotator, all_rated({"helpfulness": 5}))
    submit(rubric, annotator2, all_rated({"helpfulness": 2, "honesty": 1}))
    rows = [json.loads(line) for line in export_ratings(rubric)]
    assert len(rows) == 8
    assert list(rows[0]) == [
        "item_id",
        "response_id",
        "prompt",
        "response",
        "annotator",
        "rubric_version",
        "scores",
        "rationales",
        "not_ratable",
    ]
    assert {tuple(row["scores"]) for row in rows} == {("helpfulness", "honesty")}
    assert rows[0]["scores"] == {"helpfulness": 5, "honesty": None}
    assert rows[0]["response_id"] == "r-1:0" and rows[0]["response"] == "one"
    assert rows[0]["annotator"] == annotator_pseudonym(project_id=rubric.pk, user_id=annotator.pk)
    assert rows[4]["scores"] == {"helpfulness": 2, "honesty": 1}


def test_the_rating_page_shows_every_criterion_of_every_response(client, rubric, annotator):
    client.force_login(annotator)
    page = client.get(reverse("annotations:label", args=[rubric.code])).content.decode()
    for n in range(1, 5):
        assert f"Response {n}" in page and f"Response {n} is not ratable" in page
    assert page.count('name="r0-helpfulness"') == 5 and page.count('name="r3-honesty"') == 5
    assert 'name="r0-honesty-rationale"' in page and 'name="r0-helpfulness-rationale"' not in page
    assert "A is better" not in page


def test_rating_through_the_page_stores_the_scores_and_errors_keep_what_was_typed(client, rubric, annotator):
    client.force_login(annotator)
    assignment = assignment_next(project=rubric, expert=annotator)
    url = reverse("annotations:submit", args=[rubric.code, assignment.pk])
    data = {
        "rubric_version": "1",
        "idempotency_key": str(uuid.uuid4()),
        "r0-helpfulness": "5",
        "r0-honesty": "4",
        "r0-honesty-rationale": "Admits uncertainty",
        "r1-helpfulness": "2",
        "r2-helpfulness": "3",
        "r3-not_ratable": "1",
    }
    refused = client.post(url, data, **HTMX)
    page = refused.content.decode()
    assert refused.status_code == 422
    assert "Say why this response cannot be rated." in page and "Admits uncertainty" in page
    assert 'value="5" data-key="5" checked' in page
    accepted = client.post(url, {**data, "r3-reason": "Garbled"}, **HTMX)
    assert accepted.status_code == 200 and "Saved." in accepted.content.decode()
    first = Rating.objects.get(response__position=0)
    assert (first.scores, first.rationales) == (
        {"helpfulness": 5, "honesty": 4},
        {"honesty": "Admits uncertainty"},
    )


def test_rate_then_choose_stores_the_ratings_and_the_preference(client, acme, annotator):
    acme.kind = Project.Kind.BOTH
    acme.save()
    rubric_save(project=acme, criteria=CRITERIA[:1])
    ItemFactory(project=acme, external_id="b-1")
    client.force_login(annotator)
    assignment = assignment_next(project=acme, expert=annotator)
    response = client.post(
        reverse("annotations:submit", args=[acme.code, assignment.pk]),
        {
            "rubric_version": "1",
            "idempotency_key": str(uuid.uuid4()),
            "r0-helpfulness": "4",
            "r1-helpfulness": "2",
            "choice": "A",
            "strength": "2",
        },
        **HTMX,
    )
    assert response.status_code == 200, response.content.decode()[:500]
    annotation = Annotation.objects.get()
    assert annotation.preference == "a" and annotation.ratings.count() == 2


def test_a_paused_project_serves_nothing_and_refuses_open_forms(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    acme.status = Project.Status.PAUSED
    acme.save()
    assert assignment_next(project=acme, expert=annotator) is None
    with pytest.raises(ValidationError, match="paused"):
        annotation_submit(
            assignment=assignment,
            expert=annotator,
            idempotency_key=uuid.uuid4(),
            judgment=Judgment("A", 1, ""),
        )
    acme.status = Project.Status.ACTIVE
    acme.save()
    assert assignment_next(project=acme, expert=annotator) is not None


def test_the_aggregated_ratings_give_each_responses_mean_and_the_raw_scores(rubric, annotator, annotator2):
    from annotations.exports import export_lines

    rubric.labels_per_item = 2
    rubric.save()
    submit(rubric, annotator, all_rated({"helpfulness": 5, "honesty": 4}))
    submit(
        rubric,
        annotator2,
        (*all_rated({"helpfulness": 2})[:3], ResponseRating(position=3, not_ratable=True, reason="garbled")),
    )
    lines = [json.loads(line) for line in export_lines(rubric, "ratings_mean")]
    assert len(lines) == 4
    first, last = lines[0], lines[3]
    assert (first["n_ratings"], first["mean"], first["scores"]) == (
        2,
        {"helpfulness": 3.5, "honesty": 4.0},
        {"helpfulness": [5, 2], "honesty": [4]},
    )
    assert (last["n_not_ratable"], last["mean"]) == (1, {"helpfulness": 5.0, "honesty": 4.0})
    assert len(first["annotators"]) == 2
