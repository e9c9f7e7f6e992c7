"""The quality controls' writes: grading a qualification, pausing an expert whose gold accuracy
falls below the bar, and a manager's reinstatement or retake.

The two automatic ones run after every stored label (registered in `annotations.hooks` by
`QualityConfig.ready`), in the submission's transaction, with the expert's membership row locked:
two answers submitted together are graded one after the other, never both on the same count.
They write only this app's table and the membership's quality fields; serving reads those
(`annotations.eligibility.expert_standing`).
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min
from django.http import HttpRequest
from django.utils import timezone

from annotations.eligibility import (
    Standing,
    member_standing,
    qualification_answers,
    qualification_items_open_to,
)
from annotations.models import Annotation
from annotations.queries import gold_correct, is_label
from labelhub.audit import audit_record
from labelhub.models import AuditEvent, User
from projects.models import Item, Membership, Project
from quality.bias import gold_pause_due, wilson_interval
from quality.models import QualificationAttempt

Action = AuditEvent.Action
QualityStatus = Membership.QualityStatus
SYSTEM = "quality controls"  # the actor the audit trail names for an automatic decision


def label_reviewed(*, annotation: Annotation, item: Item, project: Project) -> None:
    """After each new label: a qualification answer may end the attempt, a gold answer may show
    that the expert's accuracy is below the bar. Other items cost nothing here."""
    if not item.is_gold:
        return
    if item.is_qualification:
        qualification_grade(project=project, expert=annotation.expert)
    else:
        gold_review(project=project, expert=annotation.expert)


def _membership_locked(project: Project, expert: User) -> Membership | None:
    # Staff label without a membership: the quality controls have no standing of theirs to change.
    return (
        Membership.objects.select_for_update()
        .filter(project=project, user=expert, ended_at__isnull=True, role=Membership.Role.EXPERT)
        .first()
    )


def _set_status(membership: Membership, status: str, *, now: datetime, **fields: object) -> None:
    membership.quality_status = status
    membership.quality_changed_at = now
    for name, value in fields.items():
        setattr(membership, name, value)
    membership.full_clean(validate_unique=False, validate_constraints=True)
    membership.save(update_fields=["quality_status", "quality_changed_at", *fields])


@transaction.atomic
def qualification_grade(
    *, project: Project, expert: User, now: datetime | None = None
) -> QualificationAttempt | None:
    """Grade the expert's qualification attempt once it is complete: the project's number of
    items answered, or every qualification item open to them answered when there are fewer.
    Pass: the project's items open to them. Fail: blocked, with a retake after the project's
    cool-off (none without a manager when it has none). Returns the attempt when it was graded."""
    now = now or timezone.now()
    membership = _membership_locked(project, expert)
    if membership is None:
        return None
    standing = member_standing(membership, project=project, expert=expert, now=now)
    if standing.standing != Standing.QUALIFYING:
        return None  # already graded, or the project no longer asks for a qualification
    answers = qualification_answers(project=project, expert=expert, since=standing.attempt_since)
    tally = answers.aggregate(
        answered=Count("pk"), correct=Count("pk", filter=gold_correct()), first=Min("submitted_at")
    )
    answered, correct = tally["answered"], tally["correct"]
    if not answered:
        return None
    if (
        answered < project.qualification_items
        and qualification_items_open_to(project=project, expert=expert).exists()
    ):
        return None  # the attempt goes on
    passed = 100 * correct >= project.qualification_pass_percent * answered
    attempt = QualificationAttempt.objects.create(
        project=project,
        expert=expert,
        started_at=tally["first"],
        finished_at=now,
        answered=answered,
        correct=correct,
        required=project.qualification_items,
        pass_percent=project.qualification_pass_percent,
        passed=passed,
    )
    if passed:
        _set_status(membership, QualityStatus.ACTIVE, now=now, qualified_at=now, retake_after=None)
    else:
        days = project.qualification_cooloff_days
        # A retake is taken on items not answered before: with none left, none opens by itself.
        left = qualification_items_open_to(project=project, expert=expert).exists()
        retake = None if days is None or not left else now + timedelta(days=days)
        _set_status(membership, QualityStatus.FAILED, now=now, retake_after=retake)
    audit_record(
        action=Action.QUALIFICATION_PASSED if passed else Action.QUALIFICATION_FAILED,
        actor_name=SYSTEM,
        project=project,
        target=f"expert {expert.get_username()}",
        detail={
            "answered": answered,
            "correct": correct,
            "pass_percent": project.qualification_pass_percent,
            **(
                {}
                if passed
                else {
                    "retake_after": membership.retake_after.isoformat() if membership.retake_after else None
                }
            ),
        },
    )
    return attempt


def continuous_gold(*, project: Project, expert: User, since: datetime | None) -> tuple[int, int]:
    """(correct, answered) over the expert's gold checks mixed into real work, from `since` (the
    last change of their standing: a reinstated expert starts afresh)."""
    answers = Annotation.objects.filter(is_label(), project=project, expert=expert, item__is_gold=True)
    if since is not None:
        answers = answers.filter(submitted_at__gt=since)
    tally = answers.aggregate(answered=Count("pk"), correct=Count("pk", filter=gold_correct()))
    return tally["correct"], tally["answered"]


@transaction.atomic
def gold_review(*, project: Project, expert: User, now: datetime | None = None) -> bool:
    """Pause the expert on `project` when, after at least the project's `gold_min` gold answers,
    the top of their accuracy's 95% Wilson interval is below the project's bar. Returns whether
    they were paused now."""
    if not project.gold_bar_percent:
        return False
    now = now or timezone.now()
    membership = _membership_locked(project, expert)
    if (
        membership is None
        or member_standing(membership, project=project, expert=expert, now=now).standing != Standing.WORK
    ):
        return False
    correct, answered = continuous_gold(project=project, expert=expert, since=membership.quality_changed_at)
    bar = project.gold_bar_percent / 100
    if not gold_pause_due(correct=correct, answered=answered, gold_min=project.gold_min, bar=bar):
        return False
    _set_status(membership, QualityStatus.PAUSED, now=now)
    low, high = wilson_interval(correct, answered)  # type: ignore[misc]
    audit_record(
        action=Action.EXPERT_PAUSED,
        actor_name=SYSTEM,
        project=project,
        target=f"expert {expert.get_username()}",
        detail={
            "gold_answered": answered,
            "gold_correct": correct,
            "interval": [round(low, 4), round(high, 4)],
            "bar_percent": project.gold_bar_percent,
        },
    )
    return True


def _held_back(project: Project, expert: User) -> Membership:
    membership = _membership_locked(project, expert)
    if membership is None:
        raise ValidationError("This person is not an expert on this project.")
    if membership.quality_status == QualityStatus.ACTIVE:
        raise ValidationError("This expert is not paused and has not failed the qualification.")
    return membership


@transaction.atomic
def expert_reinstate(
    *,
    project: Project,
    expert: User,
    by: User,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """A manager lets a paused expert, or one who failed the qualification, work again. Their gold
    accuracy counts afresh from now; a failed qualification is waived."""
    now = now or timezone.now()
    membership = _held_back(project, expert)
    was = membership.quality_status
    waived = {"qualified_at": membership.qualified_at or now} if was == QualityStatus.FAILED else {}
    _set_status(membership, QualityStatus.ACTIVE, now=now, retake_after=None, **waived)
    audit_record(
        action=Action.EXPERT_RESUMED,
        actor=by,
        project=project,
        target=f"expert {expert.get_username()}",
        detail={"was": was},
        request=request,
    )
    return membership


@transaction.atomic
def qualification_retake_allow(
    *,
    project: Project,
    expert: User,
    by: User,
    now: datetime | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """A manager opens a retake now for an expert who failed the qualification (on the
    qualification items they have not answered yet)."""
    now = now or timezone.now()
    membership = _held_back(project, expert)
    if membership.quality_status != QualityStatus.FAILED:
        raise ValidationError("Only an expert who failed the qualification can retake it.")
    if not qualification_items_open_to(project=project, expert=expert).exists():
        raise ValidationError(
            "This expert has answered every qualification item already: mark more gold items for the "
            "qualification first (a retake is taken on items not answered before), or reinstate them."
        )
    _set_status(membership, QualityStatus.FAILED, now=now, retake_after=now)
    audit_record(
        action=Action.QUALIFICATION_RETAKE,
        actor=by,
        project=project,
        target=f"expert {expert.get_username()}",
        request=request,
    )
    return membership
