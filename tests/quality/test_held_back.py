"""What managers see about experts the quality controls hold back: each expert's status and
qualification result in the quality report and the API."""

import pytest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from annotations.eligibility import qualification_answers
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Membership, Project
from quality.frames import judgment_frames
from quality.models import QualificationAttempt
from quality.report import project_quality
from quality.services import qualification_retake_allow
from tests.conftest import api_for
from tests.factories import ItemFactory
from tests.quality.test_controls import answer, gold_item, membership_of

QualityStatus = Membership.QualityStatus


@pytest.fixture
def qualified(acme: Project):
    """Acme asks for a 3-item qualification (pass mark 80%) from a pool of 5, and has real work,
    some of it gold checks."""
    Project.objects.filter(pk=acme.pk).update(qualification_items=3, qualification_pass_percent=80)
    acme.refresh_from_db()
    for n in range(5):
        gold_item(acme, f"q-{n}", qualification=True)
    for n in range(4):
        ItemFactory(project=acme, external_id=f"w-{n}")
    return acme


def fail_qualification(project, expert) -> None:
    for correct in (True, False, False):
        answer(project, expert, correct=correct)
    assert membership_of(project, expert).quality_status == QualityStatus.FAILED


def pass_qualification(project, expert) -> None:
    for _ in range(3):
        answer(project, expert, correct=True)
    assert membership_of(project, expert).qualified_at is not None


def pause(project, expert) -> None:
    Membership.objects.filter(project=project, user=expert).update(
        quality_status=QualityStatus.PAUSED, quality_changed_at=timezone.now()
    )


def rows_by_username(report) -> dict[str, dict]:
    return {row["username"]: row for row in report.experts}


# --- the report: every expert, their status, their qualification ---


def test_every_expert_has_a_row_with_their_status_even_without_labels(qualified, annotator, annotator2):
    answer(qualified, annotator2, correct=True)  # one qualification answer given, no label
    rows = rows_by_username(project_quality(qualified, identify_experts=True))
    assert set(rows) == {annotator.username, annotator2.username}
    fresh, started = rows[annotator.username], rows[annotator2.username]
    assert (fresh["status"], fresh["labels"], fresh["qualification"]) == (
        "qualifying",
        0,
        {"attempts": 0, "latest": None, "current": {"answered": 0}},
    )
    assert (started["status"], started["labels"], started["gold_answered"]) == ("qualifying", 0, 0)
    assert started["qualification"]["current"] == {"answered": 1}


def test_a_failed_expert_shows_their_result_and_a_passed_one_theirs(qualified, annotator, annotator2):
    fail_qualification(qualified, annotator)
    pass_qualification(qualified, annotator2)
    rows = rows_by_username(project_quality(qualified, identify_experts=True))
    failed, passed = rows[annotator.username], rows[annotator2.username]
    assert failed["status"] == "failed" and failed["labels"] == 0
    latest = failed["qualification"]["latest"]
    assert (latest["passed"], latest["correct"], latest["answered"], latest["pass_percent"]) == (
        False,
        1,
        3,
        80,
    )
    assert latest["percent"] == pytest.approx(100 / 3)
    assert latest["finished_at"] == QualificationAttempt.objects.get(expert=annotator).finished_at
    assert failed["qualification"]["current"] is None
    assert passed["status"] == "active" and passed["qualification"]["latest"]["passed"] is True


def test_a_retakes_answers_so_far_count_only_the_current_attempt(qualified, annotator, manager):
    fail_qualification(qualified, annotator)
    qualification_retake_allow(project=qualified, expert=annotator, by=manager)
    answer(qualified, annotator, correct=True)
    [row] = project_quality(qualified, identify_experts=True).experts
    assert row["status"] == "qualifying"
    assert row["qualification"]["attempts"] == 1 and row["qualification"]["latest"]["passed"] is False
    # The same count as the rule that grades the attempt.
    since = membership_of(qualified, annotator).retake_after
    in_attempt = qualification_answers(project=qualified, expert=annotator, since=since).count()
    assert row["qualification"]["current"] == {"answered": in_attempt} == {"answered": 1}


def test_a_paused_expert_is_paused_and_a_project_without_a_qualification_has_none(
    acme, acme_items, annotator, annotator2
):
    answer(acme, annotator, correct=True)
    pause(acme, annotator)
    rows = rows_by_username(project_quality(acme, identify_experts=True))
    assert rows[annotator.username]["status"] == "paused"
    assert rows[annotator2.username]["status"] == "active"
    assert {row["qualification"] for row in rows.values()} == {None}


def test_qualification_answers_count_in_no_figure(qualified, annotator, annotator2):
    # Both experts give every qualification item's answer the same way: were they labels, the
    # report would count them, with gold accuracy and agreement over them.
    pass_qualification(qualified, annotator)
    pass_qualification(qualified, annotator2)
    frames = judgment_frames(qualified)
    assert frames.choices.empty and frames.strengths.empty
    rows = rows_by_username(project_quality(qualified, identify_experts=True))
    assert [(row["labels"], row["gold_answered"], row["gold_accuracy"]) for row in rows.values()] == [
        (0, 0, None),
        (0, 0, None),
    ]
    answer(qualified, annotator, correct=True)  # a real label now
    assert (
        rows_by_username(project_quality(qualified, identify_experts=True))[annotator.username]["labels"] == 1
    )


def test_a_member_in_another_role_has_no_row(qualified, manager, viewer, annotator):
    report = project_quality(qualified, identify_experts=True)
    assert [row["username"] for row in report.experts] == [annotator.username]


# --- the API ---


def quality_api(project) -> str:
    return reverse("quality:api-quality", kwargs={"slug": project.slug})


def test_the_api_gives_each_experts_status_and_qualification(qualified, manager, annotator, annotator2):
    fail_qualification(qualified, annotator)
    body = api_for(manager).get(quality_api(qualified)).json()
    rows = {row["username"]: row for row in body["experts"]}
    assert rows[annotator.username]["status"] == "failed"
    latest = rows[annotator.username]["qualification"]["latest"]
    assert (latest["passed"], latest["correct"], latest["answered"]) == (False, 1, 3)
    assert latest["finished_at"].endswith("Z")
    assert rows[annotator2.username]["qualification"] == {
        "attempts": 0,
        "latest": None,
        "current": {"answered": 0},
    }
    # The page's row ids are for the page's actions, not the API's.
    assert all("user_id" not in row for row in body["experts"])


def test_client_viewers_get_statuses_by_pseudonym_only(qualified, viewer, annotator):
    fail_qualification(qualified, annotator)
    body = api_for(viewer).get(quality_api(qualified)).json()
    [row] = body["experts"]
    assert row["annotator"] == annotator_pseudonym(project_id=qualified.pk, user_id=annotator.pk)
    assert row["status"] == "failed" and "username" not in row and "user_id" not in row
    assert annotator.username not in str(body)


def test_the_schema_names_the_statuses():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    assert components["ExpertQuality"]["properties"]["status"]["allOf"] == [
        {"$ref": "#/components/schemas/ExpertStatusEnum"}
    ]
    assert components["ExpertStatusEnum"]["enum"] == ["active", "failed", "paused", "qualifying"]
    assert "qualification" in components["ExpertQuality"]["properties"]
