"""The quality controls at work: qualification first, then continuous gold with an automatic pause,
and a manager's reinstatement or retake; what the expert is told; what counts as a label."""

import random
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotations.eligibility import Standing, expert_standing
from annotations.models import Annotation
from annotations.progress import items_left_for, project_progress
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from labelhub.models import AuditEvent
from projects.models import Membership, Project
from quality.models import QualificationAttempt
from quality.services import expert_reinstate, qualification_retake_allow
from tests.conftest import member
from tests.factories import ItemFactory

QualityStatus = Membership.QualityStatus


def gold_item(project, name: str, *, qualification: bool = False):
    return ItemFactory(
        project=project,
        external_id=name,
        is_gold=True,
        gold_answer={"preference": "a"},
        is_qualification=qualification,
    )


def answer(project, expert, *, correct: bool, rng=None, now=None):
    """Take the next item and answer it: the gold answer ("a", the item's first response) when
    `correct`, else the other response. Returns the assignment, or None when nothing was served."""
    assignment = assignment_next(project=project, expert=expert, rng=rng, now=now)
    if assignment is None:
        return None
    wants_a = correct or not assignment.item.is_gold
    choice = "A" if (assignment.shown_left == 0) == wants_a else "B"
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, 2, ""),
        idempotency_key=uuid.uuid4(),
        now=now,
    )
    return assignment


def membership_of(project, expert) -> Membership:
    return Membership.objects.get(project=project, user=expert, ended_at__isnull=True)


@pytest.fixture
def qualifying(acme: Project):
    """Acme asks for a 3-item qualification (pass mark 80%) from a pool of 5, and has real work."""
    Project.objects.filter(pk=acme.pk).update(qualification_items=3, qualification_pass_percent=80)
    acme.refresh_from_db()
    tests = [gold_item(acme, f"q-{n}", qualification=True) for n in range(5)]
    work = [ItemFactory(project=acme, external_id=f"w-{n}") for n in range(4)]
    return acme, tests, work


def test_a_new_expert_is_served_only_qualification_items_in_random_order(qualifying, annotator):
    acme, _, _ = qualifying
    firsts = set()
    for seed in range(8):
        expert = annotator if seed == 0 else member(acme, f"new-expert-{seed}", Membership.Role.EXPERT)
        served = assignment_next(project=acme, expert=expert, rng=random.Random(seed))
        assert served.item.is_qualification
        firsts.add(served.item.external_id)
    assert len(firsts) > 1  # not every new expert starts on the same item: the order is drawn
    assert expert_standing(project=acme, expert=annotator, now=timezone.now()).standing == Standing.QUALIFYING
    # Only the qualification is left to them, at most its length.
    assert items_left_for(expert=annotator, projects=Project.objects.filter(pk=acme.pk)) == {acme.pk: 3}


def test_passing_the_qualification_opens_the_real_work(qualifying, annotator):
    acme, _, work = qualifying
    for _ in range(3):
        assert answer(acme, annotator, correct=True).item.is_qualification
    membership = membership_of(acme, annotator)
    assert membership.quality_status == QualityStatus.ACTIVE and membership.qualified_at is not None
    attempt = QualificationAttempt.objects.get(project=acme, expert=annotator)
    assert (attempt.answered, attempt.correct, attempt.passed, attempt.required) == (3, 3, True, 3)
    following = assignment_next(project=acme, expert=annotator)
    assert following.item in work
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.QUALIFICATION_PASSED, project_id=acme.pk
    ).exists()


def test_failing_the_qualification_blocks_the_expert_until_a_manager_arranges_a_retake(
    qualifying, annotator, manager, client
):
    acme, _, _ = qualifying
    for correct in (True, False, False):
        answer(acme, annotator, correct=correct)
    membership = membership_of(acme, annotator)
    assert membership.quality_status == QualityStatus.FAILED and membership.retake_after is None
    assert assignment_next(project=acme, expert=annotator) is None
    assert items_left_for(expert=annotator, projects=Project.objects.filter(pk=acme.pk)) == {}
    client.force_login(annotator)
    page = client.get(reverse("annotations:label", args=[acme.code])).content.decode()
    assert "did not reach its pass mark" in page and "A project manager can arrange a retake" in page
    assert acme.client.name not in page
    failed = AuditEvent.objects.get(action=AuditEvent.Action.QUALIFICATION_FAILED, project_id=acme.pk)
    assert failed.detail["correct"] == 1 and failed.detail["answered"] == 3

    qualification_retake_allow(project=acme, expert=annotator, by=manager)
    retake = assignment_next(project=acme, expert=annotator)
    assert retake.item.is_qualification
    # The retake is taken on items not answered before: two are left of the five, and then graded.
    answer(acme, annotator, correct=True)  # (the lease above is resumed and answered)
    answer(acme, annotator, correct=True)
    membership.refresh_from_db()
    assert membership.quality_status == QualityStatus.ACTIVE
    attempts = list(
        QualificationAttempt.objects.filter(project=acme, expert=annotator).order_by("finished_at")
    )
    assert [(a.answered, a.correct, a.passed) for a in attempts] == [(3, 1, False), (2, 2, True)]


def test_a_retake_opens_by_itself_after_the_projects_cool_off(qualifying, annotator):
    acme, _, _ = qualifying
    Project.objects.filter(pk=acme.pk).update(qualification_cooloff_days=2)
    acme.refresh_from_db()
    for _ in range(3):
        answer(acme, annotator, correct=False)
    membership = membership_of(acme, annotator)
    assert membership.quality_status == QualityStatus.FAILED
    assert membership.retake_after - membership.quality_changed_at == timedelta(days=2)
    standing = expert_standing(project=acme, expert=annotator, now=timezone.now())
    assert standing.standing == Standing.FAILED and standing.retake_after == membership.retake_after
    assert assignment_next(project=acme, expert=annotator, now=timezone.now() + timedelta(days=1)) is None
    later = timezone.now() + timedelta(days=2, minutes=1)
    assert assignment_next(project=acme, expert=annotator, now=later).item.is_qualification


def test_a_qualification_item_cannot_be_skipped(qualifying, annotator):
    acme, _, _ = qualifying
    served = assignment_next(project=acme, expert=annotator)
    with pytest.raises(ValidationError, match="cannot be skipped"):
        assignment_skip(assignment=served, expert=annotator, reason="unsure")


def test_qualification_answers_are_not_labels(qualifying, annotator):
    acme, _, _ = qualifying
    for _ in range(3):
        answer(acme, annotator, correct=True)
    answer(acme, annotator, correct=True)  # one real label
    progress = project_progress(acme, identify_experts=True)
    assert [(row.annotator, row.labels, row.gold_answered) for row in progress.per_expert] == [
        ("acme-expert", 1, 0)
    ]
    assert progress.gold_items == 0  # qualification items are not the project's gold checks


@pytest.fixture
def gold_checked(acme: Project):
    """Every other item of Acme is a gold check (50%); an expert is paused below 70% after 10."""
    Project.objects.filter(pk=acme.pk).update(gold_percent=50, gold_min=10, gold_bar_percent=70)
    acme.refresh_from_db()
    gold = [gold_item(acme, f"g-{n}") for n in range(30)]
    work = [ItemFactory(project=acme, external_id=f"w-{n}") for n in range(40)]
    return acme, gold, work


def always_gold() -> random.Random:
    from tests.factories import FixedDraws

    return FixedDraws(0.0)


def test_an_expert_who_misses_the_gold_checks_is_paused_and_told_kindly(gold_checked, annotator, client):
    acme, _, _ = gold_checked
    for _ in range(40):
        if answer(acme, annotator, correct=False, rng=always_gold()) is None:
            break
    membership = membership_of(acme, annotator)
    assert membership.quality_status == QualityStatus.PAUSED
    gold_answered = Annotation.objects.filter(project=acme, expert=annotator, item__is_gold=True).count()
    assert gold_answered == 10  # paused on the tenth wrong answer: the first moment the rule allows
    assert assignment_next(project=acme, expert=annotator) is None
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPERT_PAUSED, project_id=acme.pk)
    assert event.detail["gold_answered"] == 10 and event.detail["gold_correct"] == 0
    assert event.actor is None and event.actor_name == "quality controls"
    client.force_login(annotator)
    page = client.get(reverse("annotations:label", args=[acme.code])).content.decode()
    assert "Your work on this project is paused" in page and "Nothing you submitted is lost" in page


def test_a_good_expert_with_an_unlucky_streak_is_not_paused(gold_checked, annotator):
    acme, _, _ = gold_checked
    # 6 of the first 10 right (60%, under the bar): the interval's top is still above 70%.
    for correct in [False] * 4 + [True] * 16:
        answer(acme, annotator, correct=correct, rng=always_gold())
    assert membership_of(acme, annotator).quality_status == QualityStatus.ACTIVE


def test_a_paused_expert_cannot_submit_the_item_they_held(gold_checked, annotator):
    acme, _, _ = gold_checked
    held = assignment_next(project=acme, expert=annotator)
    Membership.objects.filter(project=acme, user=annotator).update(quality_status=QualityStatus.PAUSED)
    with pytest.raises(ValidationError, match="paused"):
        annotation_submit(
            assignment=held, expert=annotator, judgment=Judgment("A", 2, ""), idempotency_key=uuid.uuid4()
        )
    assert not Annotation.objects.filter(assignment=held).exists()


def test_a_reinstated_expert_works_again_and_their_gold_counts_afresh(gold_checked, annotator, manager):
    acme, _, _ = gold_checked
    for _ in range(30):
        if answer(acme, annotator, correct=False, rng=always_gold()) is None:
            break
    expert_reinstate(project=acme, expert=annotator, by=manager)
    membership = membership_of(acme, annotator)
    assert membership.quality_status == QualityStatus.ACTIVE
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPERT_RESUMED, project_id=acme.pk)
    assert event.actor == manager and event.detail == {"was": "paused"}
    # The old misses are behind them: one more wrong answer does not pause them again at once.
    assert answer(acme, annotator, correct=False, rng=always_gold()) is not None
    assert membership_of(acme, annotator).quality_status == QualityStatus.ACTIVE


def test_reinstating_someone_who_is_not_held_back_is_refused(acme, annotator, manager):
    with pytest.raises(ValidationError, match="not paused"):
        expert_reinstate(project=acme, expert=annotator, by=manager)
    with pytest.raises(ValidationError, match="not an expert"):
        expert_reinstate(project=acme, expert=manager, by=manager)


def test_a_project_with_no_bar_never_pauses(gold_checked, annotator):
    acme, _, _ = gold_checked
    Project.objects.filter(pk=acme.pk).update(gold_bar_percent=0)
    acme.refresh_from_db()
    for _ in range(20):
        answer(acme, annotator, correct=False, rng=always_gold())
    assert membership_of(acme, annotator).quality_status == QualityStatus.ACTIVE


def test_the_labelling_api_says_why_a_paused_expert_gets_no_item(gold_checked, annotator):
    from tests.conftest import api_for

    acme, _, _ = gold_checked
    api = api_for(annotator)
    url = reverse("annotations:api-next", args=[acme.code])
    assert api.post(url, {}, format="json").json()["qualification"] is False
    Membership.objects.filter(project=acme, user=annotator).update(quality_status=QualityStatus.PAUSED)
    refused = api.post(url, {}, format="json")
    assert refused.status_code == 403 and "Your work on this project is paused" in refused.json()["detail"]


def test_the_labelling_api_marks_qualification_items(qualifying, annotator):
    from tests.conftest import api_for

    acme, _, _ = qualifying
    served = api_for(annotator).post(reverse("annotations:api-next", args=[acme.code]), {}, format="json")
    assert served.status_code == 200 and served.json()["qualification"] is True


def test_turning_a_qualification_on_later_does_not_stop_experts_already_at_work(acme, annotator, annotator2):
    ItemFactory(project=acme, external_id="early")
    for n in range(3):
        gold_item(acme, f"q-{n}", qualification=True)
    ItemFactory(project=acme, external_id="later")
    answer(acme, annotator, correct=True)  # a real label before the qualification is asked for
    Project.objects.filter(pk=acme.pk).update(qualification_items=2)
    acme.refresh_from_db()
    now = timezone.now()
    assert expert_standing(project=acme, expert=annotator, now=now).standing == Standing.WORK
    assert not assignment_next(project=acme, expert=annotator).item.is_qualification
    # A new expert is asked for it.
    assert expert_standing(project=acme, expert=annotator2, now=now).standing == Standing.QUALIFYING


def test_a_qualification_item_let_lapse_comes_back_before_any_other(qualifying, annotator):
    acme, _, _ = qualifying
    first = assignment_next(project=acme, expert=annotator, rng=random.Random(1))
    later = first.expires_at + timedelta(seconds=1)
    for seed in range(6):
        again = assignment_next(project=acme, expert=annotator, rng=random.Random(seed), now=later)
        assert again.item == first.item
        later = again.expires_at + timedelta(seconds=1)


def test_no_retake_opens_when_every_qualification_item_has_been_answered(acme, annotator, manager):
    Project.objects.filter(pk=acme.pk).update(qualification_items=2, qualification_cooloff_days=0)
    acme.refresh_from_db()
    for n in range(2):
        gold_item(acme, f"q-{n}", qualification=True)
    for _ in range(2):
        answer(acme, annotator, correct=False)
    membership = membership_of(acme, annotator)
    assert membership.quality_status == QualityStatus.FAILED and membership.retake_after is None
    with pytest.raises(ValidationError, match="answered every qualification item"):
        qualification_retake_allow(project=acme, expert=annotator, by=manager)
    gold_item(acme, "q-new", qualification=True)
    qualification_retake_allow(project=acme, expert=annotator, by=manager)
    assert assignment_next(project=acme, expert=annotator).item.external_id == "q-new"


def test_items_left_count_down_through_the_qualification(qualifying, annotator):
    acme, _, _ = qualifying
    only_acme = Project.objects.filter(pk=acme.pk)
    lefts = [items_left_for(expert=annotator, projects=only_acme)[acme.pk]]
    for _ in range(2):
        answer(acme, annotator, correct=True)
        lefts.append(items_left_for(expert=annotator, projects=only_acme)[acme.pk])
    assert lefts == [3, 2, 1]
