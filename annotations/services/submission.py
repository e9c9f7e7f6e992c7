"""Storing what experts do with an item: a judgment (exactly once), a skip, a draft; and
withdrawing judgments (staff, in the admin)."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotations.eligibility import expert_standing, item_has_room, item_servable, standing_notice
from annotations.hooks import label_stored
from annotations.judging import Judgment, ResponseRating, judgment_errors
from annotations.models import REASON_MAX_CHARS, Annotation, Assignment, Draft, Rating, Skip, too_long
from annotations.queries import annotations_per_item
from annotations.services.serving import LeaseLost, lease_extend, owned_for_update
from labelhub.experts import expert_eligible_domains
from labelhub.models import User
from labelhub.rows import columns, fetch, insert
from projects.guidelines import current_guideline_id
from projects.models import Item, Project
from projects.vocabulary import NOT_PREFERRING

Status = Assignment.Status


class KeyReused(Exception):
    """A submission carried an idempotency key that already stored a judgment on another
    assignment: it is not a retry of this one, and nothing was stored."""

    def __init__(self) -> None:
        super().__init__(
            "This submission's idempotency key was already used for another item, so nothing "
            "was saved; submit again with a new key."
        )


def _preference(choice: str, shown_left: int) -> tuple[str, bool]:
    """Canonical preference for a display choice; also whether it names a response."""
    if choice in NOT_PREFERRING:
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
    """Store the expert's judgment on the assigned item, exactly once however often it is sent.
    A judgment `judgment_errors` finds fault with is refused with its errors, by field."""
    now = now or timezone.now()
    errors = judgment_errors(judgment=judgment, project=assignment.project, item=assignment.item)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return _store(
                assignment=assignment, expert=expert, judgment=judgment, key=idempotency_key, now=now
            )
    except IntegrityError:
        # A key names one submission on one assignment. Sent with another (by anyone), it is a
        # conflict, not a retry: "already stored" would claim a judgment that was never kept.
        if _key_used_elsewhere(idempotency_key, assignment):
            raise KeyReused() from None
        # Two copies of one request raced past the checks; the other one stored it.
        stored = Annotation.objects.filter(assignment=assignment, expert=expert).first()
        if stored is None:
            raise
        return Submission(stored, created=False)


def _key_used_elsewhere(key: uuid.UUID, assignment: Assignment) -> bool:
    return Annotation.objects.filter(idempotency_key=key).exclude(assignment_id=assignment.pk).exists()


def _store(
    *, assignment: Assignment, expert: User, judgment: Judgment, key: uuid.UUID, now: datetime
) -> Submission:
    item = assignment.item
    assignment = _locked_with_project(assignment.pk)
    assignment.item = item
    if assignment.expert_id != expert.pk:
        raise ValidationError("This item is assigned to someone else.")
    if assignment.status == Status.SUBMITTED:
        stored = Annotation.objects.get(assignment=assignment)
        if stored.idempotency_key != key and _key_used_elsewhere(key, assignment):
            raise KeyReused()
        return Submission(stored, created=False)
    if assignment.status == Status.SKIPPED:
        raise ValidationError("You skipped this item; it can no longer be submitted.")
    project = assignment.project  # read under the lock: a pause since the page loaded counts
    standing = expert_standing(project=project, expert=expert, now=now)
    if not item_servable(
        item, project=project, domains=expert_eligible_domains(user=expert), standing=standing
    ):
        raise ValidationError(
            standing_notice(standing)
            or "You can no longer label this item: the project is paused or archived, "
            "or your expert profile no longer covers it."
        )
    if assignment.status == Status.EXPIRED or assignment.expires_at <= now:
        # A late submission is still welcome while the slot it held is free.
        Item.objects.select_for_update(no_key=True, of=("self",)).get(pk=item.pk)  # for the count
        if not item_has_room(item=item, project=project, expert=expert, now=now):
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
        active_seconds=judgment.active_seconds,
        pasted_chars=judgment.pasted_chars,
        guideline_id=current_guideline_id(project),
        idempotency_key=key,
    )
    # Validated above (the judgment) or the server's own; the database's constraints check them.
    insert(annotation)
    if project.rates:
        Rating.objects.bulk_create(
            _ratings(
                annotation=annotation,
                item=assignment.item,
                ratings=list(judgment.ratings),
                version=judgment.rubric_version,
            )
        )
    assignment.status = Status.SUBMITTED
    # Written out: these run on every submission (see `_locked_with_project`).
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Item._meta.db_table} SET n_labels = n_labels + 1 WHERE id = %s", [item.pk])
        cursor.execute(
            f"UPDATE {Assignment._meta.db_table} SET status = %s WHERE id = %s",
            [assignment.status, assignment.pk],
        )
        cursor.execute(f"DELETE FROM {Draft._meta.db_table} WHERE assignment_id = %s", [assignment.pk])
    label_stored(annotation=annotation, item=item, project=project)
    return Submission(annotation, created=True)


def _ratings(
    *, annotation: Annotation, item: Item, ratings: list[ResponseRating], version: int
) -> list[Rating]:
    """The judgment's ratings as rows of `annotation` (checked already by `judgment_errors`)."""
    responses = {r.position: r for r in item.responses.all()}
    return [
        Rating(
            annotation=annotation,
            response=responses[rating.position],
            rubric_version=version,
            scores={} if rating.not_ratable else {k: v for k, v in rating.scores.items() if v is not None},
            rationales={}
            if rating.not_ratable
            else {k: v.strip() for k, v in rating.rationales.items() if v.strip()},
            not_ratable=rating.not_ratable,
            not_ratable_reason=rating.reason.strip() if rating.not_ratable else "",
        )
        for rating in ratings
    ]


def _locked_with_project(pk: int) -> Assignment:
    """Assignment `pk` with its project, the assignment's row locked (only that row: locking the
    joined project as well would block every other expert's foreign-key checks on it and
    deadlock under load). Hand-written, as is the rest of a submission's writes: they run on
    every label, and compiling the ORM's statements cost more than running them."""
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    found = fetch(
        f"""SELECT {columns(Assignment, "a")}, {columns(Project, "p")}
            FROM {Assignment._meta.db_table} a JOIN {Project._meta.db_table} p ON p.id = a.project_id
            WHERE a.id = %s{lock}""",
        [pk],
        Assignment,
        Project,
    )
    if found is None:
        raise Assignment.DoesNotExist(f"No assignment {pk}.")
    assignment, project = found
    assignment.project = project
    return assignment


@transaction.atomic
def assignment_skip(*, assignment: Assignment, expert: User, reason: str, note: str = "") -> Skip:
    """The expert declines the item: it is never served to them again and its slot is freed."""
    note = note.strip()
    if len(note) > REASON_MAX_CHARS:
        raise ValidationError({"note": too_long("The skip note", REASON_MAX_CHARS)})
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.expert_id != expert.pk:
        raise ValidationError("This item is assigned to someone else.")
    if assignment.status == Status.SUBMITTED:
        raise ValidationError("You already submitted this item.")
    existing = Skip.objects.filter(item_id=assignment.item_id, expert=expert).first()
    if existing is not None:
        return existing
    if Item.objects.filter(pk=assignment.item_id, is_qualification=True).exists():
        # Skipping would let an expert pass over the questions they find hard.
        raise ValidationError("Qualification items cannot be skipped: please answer each as well as you can.")
    skip = Skip(
        project_id=assignment.project_id,
        item_id=assignment.item_id,
        expert=expert,
        reason=reason,
        note=note,
    )
    skip.full_clean(validate_unique=False, validate_constraints=False)
    skip.save()
    assignment.status = Status.SKIPPED
    assignment.save(update_fields=["status"])
    Draft.objects.filter(assignment=assignment).delete()
    return skip


# A draft holds what a labelling form can hold; anything bigger is not a draft of it.
DRAFT_MAX_CHARS = 100_000

DRAFT_IGNORED_FIELDS = frozenset({"csrfmiddlewaretoken", "idempotency_key", "active_seconds"})


@transaction.atomic
def draft_save(
    *, assignment: Assignment, expert: User, fields: dict[str, list[str]], now: datetime | None = None
) -> Draft:
    """Keep what the expert has entered so far; saving is activity, so it extends the lease."""
    now = now or timezone.now()
    kept = {
        name: [str(value) for value in values]
        for name, values in sorted(fields.items())
        if name not in DRAFT_IGNORED_FIELDS
    }
    if sum(len(name) + sum(map(len, values)) for name, values in kept.items()) > DRAFT_MAX_CHARS:
        raise ValidationError(f"This draft is larger than {DRAFT_MAX_CHARS:,} characters; it was not saved.")
    assignment = owned_for_update(assignment, expert)
    lease_extend(assignment, expert=expert, now=now)
    draft, _ = Draft.objects.update_or_create(
        assignment=assignment, defaults={"fields": kept, "saved_at": now}
    )
    return draft


@transaction.atomic
def annotations_delete(*, annotations: QuerySet[Annotation]) -> int:
    """Withdraw judgments (staff do, in the admin); returns how many were deleted.

    Their ratings go with them, and so do their assignments: each item is served again as if it
    had never been judged, and its label count is counted again from what is left.
    """
    rows = list(annotations.order_by().values_list("pk", "item_id", "assignment_id"))
    if not rows:
        return 0
    pks, item_ids, assignment_ids = (list(column) for column in zip(*rows, strict=True))
    # Under the items' locks, so that a label submitted meanwhile is counted, not lost.
    list(Item.objects.select_for_update(no_key=True).filter(pk__in=item_ids).order_by("pk").values("pk"))
    Annotation.objects.filter(pk__in=pks).delete()
    Assignment.objects.filter(pk__in=assignment_ids).delete()
    Item.objects.filter(pk__in=item_ids).update(n_labels=annotations_per_item())
    return len(pks)
