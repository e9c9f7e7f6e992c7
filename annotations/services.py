"""Serving items to experts and storing what they submit.

Concurrency model: every lease on an item is taken while holding that item's row lock
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers anyway), and the
item's remaining room is counted again *after* the lock is held, by a fresh statement. Counting
before the lock would read a snapshot that may predate a lease another expert just committed, and
the item could then go past its overlap.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotations.models import Annotation, Assignment, Rating, Skip
from annotations.queries import annotations_per_item, live_leases, live_leases_per_item
from annotations.rating import ResponseRating, build_ratings, validate_ratings
from labelhub.models import User
from labelhub.services import expert_eligible_domains
from projects.guidelines import current_guideline
from projects.models import Item, Project
from projects.rubrics import current_criteria

# How many locked-then-full candidates to step over before giving up for this request. Only a
# race can fill a candidate between the query and the lock, so a handful is plenty.
MAX_CANDIDATES = 20

Status = Assignment.Status


class LeaseLost(Exception):
    """The lease ran out and the slot went to someone else before the submission arrived."""


def items_eligible_for(items: QuerySet[Item], *, expert: User) -> QuerySet[Item]:
    """`items` narrowed to those `expert` may be sent: none unless their expert profile is vetted,
    then the items with no domain and those in a domain they are vetted for.

    Serving and the "items left" figures both filter through here, so they never disagree.
    """
    domains = expert_eligible_domains(user=expert)
    if domains is None:
        return items.none()
    # A paused or archived project serves nothing; a required domain bars experts not vetted for it.
    return items.filter(
        Q(domain="") | Q(domain__in=domains),
        Q(project__required_domain="") | Q(project__required_domain__in=domains),
        project__status=Project.Status.ACTIVE,
    )


def items_open_to(*, project: Project, expert: User, now: datetime) -> QuerySet[Item]:
    """Items of `project` still short of labels that `expert` has neither labelled nor skipped,
    among those `expert` is eligible for (see `items_eligible_for`)."""
    return (
        items_eligible_for(Item.objects.filter(project=project), expert=expert)
        .exclude(annotations__expert=expert)
        .exclude(skips__expert=expert)
        .alias(n_taken=annotations_per_item() + live_leases_per_item(now, excluding=expert))
        .filter(n_taken__lt=project.labels_per_item)
    )


def _has_room(*, item: Item, project: Project, expert: User, now: datetime) -> bool:
    taken = (
        Annotation.objects.filter(item=item).count()
        + Assignment.objects.filter(live_leases(now), item=item).exclude(expert=expert).count()
    )
    return taken < project.labels_per_item


def live_assignment(*, project: Project, expert: User, now: datetime | None = None) -> Assignment | None:
    now = now or timezone.now()
    return (
        Assignment.objects.select_related("item")
        .filter(live_leases(now), project=project, expert=expert)
        .first()
    )


@transaction.atomic
def assignment_next(
    *, project: Project, expert: User, now: datetime | None = None, rng: random.Random | None = None
) -> Assignment | None:
    """The expert's live lease in `project`, else a new lease on the next open item, else None."""
    now = now or timezone.now()
    # Built once: eligibility (vetting, domains) is read here, not again for every candidate.
    open_items = items_open_to(project=project, expert=expert, now=now)
    live = live_assignment(project=project, expert=expert, now=now)
    if live is not None and items_eligible_for(Item.objects.filter(pk=live.item_id), expert=expert).exists():
        return live
    # A lapsed lease no longer holds a slot; close it so the one-open-lease rule admits a new one.
    # So is a live lease the expert may no longer work on (suspended since, or no longer vetted
    # for the item's domain): it is not resumed, and its slot goes back to the other experts.
    Assignment.objects.filter(project=project, expert=expert, status=Status.ACTIVE).update(
        status=Status.EXPIRED
    )
    passed_over: list[int] = []
    for _ in range(MAX_CANDIDATES):
        item = (
            open_items.exclude(pk__in=passed_over)
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if item is None:
            return None
        if _has_room(item=item, project=project, expert=expert, now=now):
            return _lease(item=item, project=project, expert=expert, now=now, rng=rng or random)
        passed_over.append(item.pk)
    return None


def _lease(*, item: Item, project: Project, expert: User, now: datetime, rng: random.Random) -> Assignment:
    expires_at = now + timedelta(minutes=project.lease_minutes)
    assignment = Assignment.objects.filter(item=item, expert=expert).first()
    if assignment is None:
        # Which response shows on the left is drawn once per (item, expert) and kept on renewal.
        shown_left = rng.randrange(2) if project.randomize_sides else 0
        assignment = Assignment(project=project, item=item, expert=expert, shown_left=shown_left)
    assignment.status = Status.ACTIVE
    assignment.leased_at = now
    assignment.expires_at = expires_at
    assignment.full_clean(validate_unique=False, validate_constraints=False)
    assignment.save()
    return assignment


# What the expert clicked, in display terms, mapped to the item's response positions.
DISPLAY_CHOICES = ("A", "B", "tie", "both_bad")


@dataclass(frozen=True)
class Judgment:
    choice: str  # one of DISPLAY_CHOICES ("A" is the response shown on the left); "" when not comparing
    strength: int | None
    rationale: str
    active_seconds: int = 0
    ratings: tuple[ResponseRating, ...] = ()  # for rubric projects: one per response
    rubric_version: int | None = None  # the version the expert was shown


def _validate(judgment: Judgment, project: Project, item: Item) -> dict[str, str]:
    errors: dict[str, str] = {}
    if project.rates:
        criteria = current_criteria(project)
        version = criteria[0].version if criteria else None
        if version is None:
            errors["ratings"] = "This project has no rubric yet; a manager must define it."
        elif judgment.rubric_version != version:
            errors["ratings"] = (
                f"The rubric changed to version {version} while you worked; "
                "reload the item to rate against it."
            )
        else:
            errors.update(validate_ratings(item=item, ratings=list(judgment.ratings), criteria=criteria))
    if project.compares:
        errors.update(_validate_choice(judgment, project))
    if project.rationale_required and not judgment.rationale.strip():
        errors["rationale"] = "This project requires a rationale."
    return errors


def _validate_choice(judgment: Judgment, project: Project) -> dict[str, str]:
    errors: dict[str, str] = {}
    if judgment.choice not in DISPLAY_CHOICES:
        errors["choice"] = "Choose A, B, tie or both bad."
    elif judgment.choice == "tie" and not project.allow_tie:
        errors["choice"] = "This project does not allow ties; choose the better response."
    elif judgment.choice == "both_bad" and not project.allow_both_bad:
        errors["choice"] = "This project does not allow 'both are bad'; choose the better response."
    elif (
        judgment.choice in ("A", "B")
        and project.asks_strength
        and judgment.strength not in Annotation.Strength.values
    ):
        errors["strength"] = "Say how much better: slightly, clearly or much."
    return errors


def _preference(choice: str, shown_left: int) -> tuple[str, bool]:
    """Canonical preference for a display choice; also whether it names a response."""
    if choice in ("tie", "both_bad"):
        return choice, False
    position = shown_left if choice == "A" else 1 - shown_left
    return ("a" if position == 0 else "b"), True


@dataclass(frozen=True)
class Submission:
    annotation: Annotation
    created: bool  # False when this was a retry of a submission already stored


def annotation_submit(
    *,
    assignment: Assignment,
    expert: User,
    judgment: Judgment,
    idempotency_key: uuid.UUID,
    now: datetime | None = None,
) -> Submission:
    """Store the expert's judgment on the assigned item, exactly once however often it is sent."""
    now = now or timezone.now()
    project = assignment.project
    errors = _validate(judgment, project, assignment.item)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return _store(
                assignment=assignment, expert=expert, judgment=judgment, key=idempotency_key, now=now
            )
    except IntegrityError:
        # Two copies of one request raced past the checks; the other one stored it.
        stored = Annotation.objects.filter(
            Q(idempotency_key=idempotency_key) | Q(assignment=assignment)
        ).first()
        if stored is None or stored.expert_id != expert.pk:
            raise
        return Submission(stored, created=False)


def _store(
    *, assignment: Assignment, expert: User, judgment: Judgment, key: uuid.UUID, now: datetime
) -> Submission:
    # Lock only the assignment: locking the joined project row as well would block every other
    # expert's foreign-key checks on it and deadlock under load.
    assignment = (
        Assignment.objects.select_for_update(of=("self",)).select_related("project").get(pk=assignment.pk)
    )
    if assignment.expert_id != expert.pk:
        raise ValidationError("This item is assigned to someone else.")
    if assignment.status == Status.SUBMITTED:
        return Submission(Annotation.objects.get(assignment=assignment), created=False)
    if assignment.status == Status.SKIPPED:
        raise ValidationError("You skipped this item; it can no longer be submitted.")
    project = assignment.project
    if not items_eligible_for(Item.objects.filter(pk=assignment.item_id), expert=expert).exists():
        raise ValidationError(
            "You can no longer label this item: the project is paused or archived, "
            "or your expert profile no longer covers it."
        )
    if assignment.status == Status.EXPIRED or assignment.expires_at <= now:
        # A late submission is still welcome while the slot it held is free.
        item = Item.objects.select_for_update().get(pk=assignment.item_id)
        if not _has_room(item=item, project=project, expert=expert, now=now):
            raise LeaseLost("Your time on this item ran out and other experts completed it.")
    preference, directional = (
        _preference(judgment.choice, assignment.shown_left) if project.compares else ("", False)
    )
    annotation = Annotation(
        project=project,
        item_id=assignment.item_id,
        expert=expert,
        assignment=assignment,
        preference=preference,
        strength=judgment.strength if directional and project.asks_strength else None,
        rationale=judgment.rationale.strip(),
        active_seconds=max(0, judgment.active_seconds),
        guideline=current_guideline(project),
        idempotency_key=key,
    )
    annotation.full_clean(validate_unique=False, validate_constraints=False)
    annotation.save()
    if project.rates:
        Rating.objects.bulk_create(
            build_ratings(
                annotation=annotation,
                item=assignment.item,
                ratings=list(judgment.ratings),
                version=judgment.rubric_version,
            )
        )
    assignment.status = Status.SUBMITTED
    assignment.save(update_fields=["status"])
    return Submission(annotation, created=True)


@transaction.atomic
def assignment_skip(*, assignment: Assignment, expert: User, reason: str, note: str = "") -> Skip:
    """The expert declines the item: it is never served to them again and its slot is freed."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.expert_id != expert.pk:
        raise ValidationError("This item is assigned to someone else.")
    if assignment.status == Status.SUBMITTED:
        raise ValidationError("You already submitted this item.")
    existing = Skip.objects.filter(item_id=assignment.item_id, expert=expert).first()
    if existing is not None:
        return existing
    skip = Skip(
        project_id=assignment.project_id,
        item_id=assignment.item_id,
        expert=expert,
        reason=reason,
        note=note.strip(),
    )
    skip.full_clean(validate_unique=False, validate_constraints=False)
    skip.save()
    assignment.status = Status.SKIPPED
    assignment.save(update_fields=["status"])
    return skip
