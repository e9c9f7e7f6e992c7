"""Each annotation's integrity signals: columns of the `annotations` export, and the per-expert
shares of the quality page and API, from one frame of the project's annotations."""

import json
import uuid

import pytest
from django.urls import reverse

from annotations.exports import REGISTRY, export_lines
from annotations.judging import ResponseRating
from annotations.models import Assignment
from annotations.services import Judgment, annotation_submit, assignment_next
from projects.models import Project
from projects.rubrics import CriterionSpec, rubric_save
from quality.export_columns import SIGNAL_COLUMNS
from quality.signals import annotation_frame
from tests.conftest import api_for
from tests.factories import ItemFactory

LONG = "B answers the question that was asked and A answers another one entirely."


def judge(project, expert, shown_left, choice, rationale="", seconds=0, pasted=0):
    assignment = assignment_next(project=project, expert=expert)
    Assignment.objects.filter(pk=assignment.pk).update(shown_left=shown_left)
    assignment.refresh_from_db()
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, 1 if choice in "AB" else None, rationale, seconds, pasted_chars=pasted),
        idempotency_key=uuid.uuid4(),
    )


@pytest.fixture
def signalled(acme, annotator):
    """Five items of 1,000 characters to read (a 100-character prompt, responses of 400 and 500),
    judged by one expert under a floor of 10 seconds per 1,000 characters."""
    acme.strength_scale = Project.StrengthScale.THREE
    acme.save()
    for n in range(5):
        ItemFactory(
            project=acme, external_id=f"s-{n}", prompt="p" * 100, responses=[("a" * 400, ""), ("b" * 500, "")]
        )
    judge(acme, annotator, 0, "A", "Same reason.", seconds=5, pasted=6)  # the left and shorter, fast
    judge(acme, annotator, 1, "A", "same reason", seconds=20)  # the left and longer: B was on the left
    judge(acme, annotator, 0, "B", LONG)  # the right and longer; no time recorded
    judge(acme, annotator, 0, "tie")  # no side, no rationale
    judge(acme, annotator, 1, "B", "ok", seconds=3, pasted=2)  # the right and shorter, fast
    return acme


def signals(project) -> dict[str, dict]:
    rows = [json.loads(line) for line in export_lines(project, "annotations")]
    return {row["item_id"]: {column: row[column] for column in SIGNAL_COLUMNS} for row in rows}


def test_the_annotations_export_carries_each_judgments_signals(signalled):
    assert signals(signalled) == {
        "s-0": {
            "chose_left": True,
            "chose_longer": False,
            "seconds_per_1k_chars": 5.0,
            "too_fast": True,
            "paste_share": 0.5,
            "rationale_repeated": True,  # "Same reason." and "same reason" are one rationale
            "rationale_short": False,
        },
        "s-1": {
            "chose_left": True,
            "chose_longer": True,
            "seconds_per_1k_chars": 20.0,
            "too_fast": False,
            "paste_share": 0.0,
            "rationale_repeated": True,
            "rationale_short": False,
        },
        "s-2": {
            "chose_left": False,
            "chose_longer": True,
            "seconds_per_1k_chars": None,
            "too_fast": None,
            "paste_share": 0.0,
            "rationale_repeated": False,
            "rationale_short": False,
        },
        "s-3": dict.fromkeys(SIGNAL_COLUMNS),
        "s-4": {
            "chose_left": False,
            "chose_longer": False,
            "seconds_per_1k_chars": 3.0,
            "too_fast": True,
            "paste_share": 1.0,
            "rationale_repeated": False,
            "rationale_short": True,  # 2 characters, against a median of 11
        },
    }
    assert list(SIGNAL_COLUMNS) == list(REGISTRY["annotations"].added_columns)


def test_without_a_floor_nothing_is_too_fast_nor_known_not_to_be(signalled):
    signalled.min_seconds_per_1k_chars = 0
    signalled.save()
    rows = signals(signalled)
    assert {row["too_fast"] for row in rows.values()} == {None}
    assert rows["s-0"]["seconds_per_1k_chars"] == 5.0


def test_a_skip_has_no_signals(acme, acme_items, annotator):
    from annotations.services import assignment_skip

    assignment_skip(
        assignment=assignment_next(project=acme, expert=annotator), expert=annotator, reason="other"
    )
    [row] = [json.loads(line) for line in export_lines(acme, "annotations")]
    assert row["outcome"] == "skip" and row["pasted_chars"] == 0
    assert {row[column] for column in SIGNAL_COLUMNS} == {None}


def quality_url(project):
    return reverse("quality:api-quality", kwargs={"slug": project.slug})


def test_the_quality_api_gives_each_experts_paste_speed_length_and_rationale_shares(signalled, manager):
    [row] = api_for(manager).get(quality_url(signalled)).json()["experts"]
    written = len("Same reason.") + len("same reason") + len(LONG) + len("ok")
    assert row["paste_share"] == pytest.approx(8 / written)
    assert row["too_fast_share"] == pytest.approx(2 / 3)  # of the three timed judgments
    assert row["longer_share"] == pytest.approx(2 / 4)  # of the four choices of a side
    assert row["repeated_share"] == pytest.approx(2 / 4) and row["short_share"] == pytest.approx(1 / 4)
    assert row["median_seconds_per_1k_chars"] == 5.0


def test_the_quality_page_shows_the_paste_share(client, signalled, manager):
    client.force_login(manager)
    page = client.get(reverse("quality:project", args=[signalled.code])).content.decode()
    written = len("Same reason.") + len("same reason") + len(LONG) + len("ok")
    assert "Rationales pasted" in page
    assert f'<span data-testid="paste-share">{8 / written:.0%}</span>' in page
    assert "67% too fast" in page


def test_shares_without_data_are_null_never_zero(acme, acme_items, annotator, manager):
    judge(acme, annotator, 0, "tie")  # no side, no time, no rationale
    [row] = api_for(manager).get(quality_url(acme)).json()["experts"]
    assert [row[name] for name in ("paste_share", "too_fast_share", "longer_share", "repeated_share")] == [
        None
    ] * 4


@pytest.fixture
def rubric(acme) -> Project:
    acme.kind = Project.Kind.RUBRIC
    acme.save()
    rubric_save(
        project=acme,
        criteria=[CriterionSpec("honesty", "Honesty", scale_min=0, scale_max=4, asks_rationale=True)],
    )
    ItemFactory(project=acme, external_id="r-1", responses=[("one", ""), ("two", "")])
    return acme


def test_a_rubric_judgments_pasted_characters_count_within_its_criterion_rationales(
    rubric, annotator, manager
):
    ratings = (
        ResponseRating(position=0, scores={"honesty": 3}, rationales={"honesty": "cites the law"}),
        ResponseRating(position=1, scores={"honesty": 1}),
    )
    annotation_submit(
        assignment=assignment_next(project=rubric, expert=annotator),
        expert=annotator,
        judgment=Judgment("", None, "Fine.", ratings=ratings, rubric_version=1, pasted_chars=9),
        idempotency_key=uuid.uuid4(),
    )
    [frame_row] = annotation_frame(rubric).to_dict("records")
    assert (frame_row["rationale_chars"], frame_row["pasted_chars"]) == (5 + 13, 9)
    [row] = api_for(manager).get(quality_url(rubric)).json()["experts"]
    assert row["paste_share"] == pytest.approx(9 / 18)
