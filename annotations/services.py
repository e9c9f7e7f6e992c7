"""Serving items to experts and storing what they submit.

Concurrency model: every lease on an item is taken while holding that item's row lock
(`SELECT … FOR NO KEY UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers anyway), and
the item's remaining room is counted again *after* the lock is held, by a fresh statement.
Counting before the lock would read a snapshot that may predate a lease another expert just
committed, and the item could then go past its overlap. A submission takes the same lock when it
counts the label on the item, so leases and labels of one item are serialised.

The lock is the NO KEY UPDATE kind on purpose: it does not conflict with the KEY SHARE locks that
inserting an annotation or an assignment takes on the item it references. With a plain FOR
UPDATE, a request waiting for an item would queue ahead of a submission that already holds KEY
SHARE on it and wait for it, while the submission waited behind it: a deadlock under load.
"""

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import EllipsisType

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from annotations.models import (
    RATIONALE_MAX_CHARS,
    REASON_MAX_CHARS,
    Annotation,
    Assignment,
    Draft,
    Rating,
    Skip,
    too_long,
)
from annotations.queries import annotations_per_item, live_leases_per_item, open_lease
from annotations.rating import ResponseRating, build_ratings, validate_ratings
from labelhub.models import User
from labelhub.rows import columns, fetch, insert
from labelhub.services import expert_eligible_domains
from projects.guidelines import current_guideline_id
from projects.models import Item, Project
from projects.rubrics import current_criteria

# How many locked-then-full candidates to step over before giving up for this request. Only a
# race can fill a candidate between the query and the lock, so a handful is plenty.
MAX_CANDIDATES = 20
# Candidates read per query, in serving order (the lock is then tried on each in turn).
CANDIDATE_WINDOW = 10

Status = Assignment.Status


class LeaseLost(Exception):
    """The lease ran out and the slot went to someone else before the submission arrived."""


class KeyReused(Exception):
    """A submission carried an idempotency key that already stored a judgment on another
    assignment: it is not a retry of this one, and nothing was stored."""

    def __init__(self) -> None:
        super().__init__(
            "This submission's idempotency key was already used for another item, so nothing "
            "was saved; submit again with a new key."
        )


def items_eligible_for(
    items: QuerySet[Item], *, expert: User, domains: list[str] | EllipsisType | None = ...
) -> QuerySet[Item]:
    """`items` narrowed to those `expert` may be sent: none unless their expert profile is vetted,
    then the items with no domain and those in a domain they are vetted for. (`domains`: the
    expert's eligible domains when the caller has read them already.)

    Serving and the "items left" figures both filter through here, so they never disagree.
    """
    if domains is ...:
        domains = expert_eligible_domains(user=expert)
    if domains is None:
        return items.none()
    # A paused or archived project serves nothing; a required domain bars experts not vetted for it.
    return items.filter(
        Q(domain="") | Q(domain__in=domains),
        Q(project__required_domain="") | Q(project__required_domain__in=domains),
        project__status=Project.Status.ACTIVE,
    )


def item_eligible(item: Item, *, project: Project, domains: frozenset[str] | None) -> bool:
    """`items_eligible_for`'s rule for one item already in hand (`project` being its project),
    without a query. The two are kept side by side and tested against each other."""
    if domains is None or project.status != Project.Status.ACTIVE:
        return False
    return (not item.domain or item.domain in domains) and (
        not project.required_domain or project.required_domain in domains
    )


def items_open_to(
    *, project: Project, expert: User, now: datetime, domains: list[str] | EllipsisType | None = ...
) -> QuerySet[Item]:
    """Items of `project` still short of labels that `expert` has neither labelled nor skipped,
    among those `expert` is eligible for (see `items_eligible_for`)."""
    return (
        items_eligible_for(Item.objects.filter(project=project), expert=expert, domains=domains)
        .exclude(annotations__expert=expert)
        .exclude(skips__expert=expert)
        # The first filter is implied by the second; it lets the serving-order index skip the
        # full items instead of counting each one's labels and leases.
        .filter(n_labels__lt=project.labels_per_item)
        .alias(n_taken=annotations_per_item() + live_leases_per_item(now, excluding=expert))
        .filter(n_taken__lt=project.labels_per_item)
    )


def _slots_taken_sql(*, now: datetime, expert: User) -> tuple[str, list[object]]:
    """SQL for how many slots of the item `i` are taken for `expert`: its labels plus the others'
    live leases. `items_open_to`'s count, written out once for the two statements that run on
    every lease (`next_open_item` and `_has_room`); a test checks it against `items_open_to`."""
    sql = f"""((SELECT COUNT(*) FROM {Annotation._meta.db_table} a WHERE a.item_id = i.id)
        + (SELECT COUNT(*) FROM {Assignment._meta.db_table} s WHERE s.item_id = i.id
           AND s.status = %s AND s.expires_at > %s AND s.expert_id <> %s))"""
    return sql, [Status.ACTIVE, connection.ops.adapt_datetimefield_value(now), expert.pk]


def _has_room(*, item: Item, project: Project, expert: User, now: datetime) -> bool:
    """Whether `item` has a slot for `expert`, counted by a fresh statement (callers hold the
    item's lock)."""
    if item.is_gold:
        return True  # a gold check has no overlap: every expert may answer it
    taken, params = _slots_taken_sql(now=now, expert=expert)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {taken} FROM {Item._meta.db_table} i WHERE i.id = %s", [*params, item.pk])
        (count,) = cursor.fetchone()
    return count < project.labels_per_item


@transaction.atomic
def assignment_next(
    *, project: Project, expert: User, now: datetime | None = None, rng: random.Random | None = None
) -> Assignment | None:
    """The expert's live lease in `project`, else a new lease on the next open item, else None.

    Order: partly labelled items first, then higher priority, then import order (shuffled within
    each rank when the project says so). Gold checks come in at the project's rate.
    """
    now = now or timezone.now()
    rng = rng or random
    # Read once: eligibility (vetting, domains) decides both the resumed lease and the candidates.
    domains = expert_eligible_domains(user=expert)
    # At most one (a database constraint): the open lease, live or lapsed.
    held = open_lease(project=project, expert=expert)
    if held is not None:
        if held.expires_at > now and item_eligible(held.item, project=project, domains=domains):
            return held
        # A lapsed lease no longer holds a slot; close it so the one-open-lease rule admits a new
        # one. So is a live lease the expert may no longer work on (suspended since, or no longer
        # vetted for the item's domain): it is not resumed, and its slot goes back to the others.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Assignment._meta.db_table} SET status = %s WHERE id = %s", [Status.EXPIRED, held.pk]
            )
    # Gold checks are mixed into real work, never served once it has run out.
    if _gold_due(project=project, expert=expert, rng=rng) and next_open_item(
        project=project, expert=expert, now=now, domains=domains, lock=False
    ):
        gold = gold_items_open_to(project=project, expert=expert, domains=domains).order_by("pk").first()
        if gold is not None:
            return _lease(item=gold, project=project, expert=expert, now=now, rng=rng)
    return _lease_first_free(project=project, expert=expert, now=now, rng=rng, domains=domains)


def _lease_first_free(
    *,
    project: Project,
    expert: User,
    now: datetime,
    rng: random.Random,
    domains: frozenset[str] | None,
) -> Assignment | None:
    """Lease the first candidate in serving order that still has room once its lock is held.

    Candidates locked this instant (another expert leasing or submitting them) are stepped over
    at first; if nothing else is free, their locks are waited for, so a brief lock never makes
    an expert think the project is done.
    """
    tried: list[int] = []  # found full under their lock
    if project.shuffle_items:
        outcome = _lease_shuffled(tried, project=project, expert=expert, now=now, rng=rng, domains=domains)
    else:
        # One statement finds and locks the first open candidate nobody holds (SKIP LOCKED), so
        # experts arriving together spread over the candidates instead of queueing on one.
        def find() -> Item | None:
            return next_open_item(project=project, expert=expert, now=now, domains=domains, tried=tried)

        outcome = None
        for _ in range(MAX_CANDIDATES):
            found = _try_lease(find, project=project, expert=expert, now=now, rng=rng)
            if not isinstance(found, int):
                outcome = found  # a lease, or None: no unlocked candidate is left
                break
            tried.append(found)  # filled by a race between the query and the lock
    if outcome is not None:
        return outcome
    # Nothing free was left unlocked: wait for the candidates others hold this instant.
    ranked = _ranked_open_items(project=project, expert=expert, now=now, domains=domains)
    for pk in ranked.exclude(pk__in=tried).values_list("pk", flat=True)[:CANDIDATE_WINDOW]:
        outcome = _try_lease(_locker(pk, wait=True), project=project, expert=expert, now=now, rng=rng)
        if isinstance(outcome, Assignment):
            return outcome
    return None


def _ranked_open_items(
    *, project: Project, expert: User, now: datetime, domains: frozenset[str] | None
) -> QuerySet[Item]:
    """The items `next_open_item` serves, in its order, as a queryset."""
    open_items = items_open_to(project=project, expert=expert, now=now, domains=domains).filter(is_gold=False)
    return open_items.order_by("-n_labels", "-priority", "pk")


def _lease_shuffled(
    tried: list[int],
    *,
    project: Project,
    expert: User,
    now: datetime,
    rng: random.Random,
    domains: frozenset[str] | None,
) -> Assignment | None:
    """Candidates a window at a time, in random order within each rank; locked ones are
    stepped over (left out of `tried`, so that they are waited for afterwards)."""
    ranked = _ranked_open_items(project=project, expert=expert, now=now, domains=domains)
    seen: list[int] = []
    while len(seen) < MAX_CANDIDATES:
        window = list(
            ranked.exclude(pk__in=seen).values_list("pk", "n_labels", "priority")[:CANDIDATE_WINDOW]
        )
        if not window:
            break
        window.sort(key=lambda row: (-row[1], -row[2], rng.random()))
        for pk, _, _ in window:
            seen.append(pk)
            outcome = _try_lease(_locker(pk, wait=False), project=project, expert=expert, now=now, rng=rng)
            if isinstance(outcome, Assignment):
                return outcome
            if outcome is not None:
                tried.append(pk)
    return None


def next_open_item(
    *,
    project: Project,
    expert: User,
    now: datetime,
    domains: frozenset[str] | None,
    tried: list[int] | None = None,
    lock: bool = True,
) -> Item | None:
    """The first item of `items_open_to(...)` that is not a gold check, in serving order (partly
    labelled first, then priority, then import order), leaving out `tried`; with `lock`, its row
    is locked unless someone else holds it, in which case the next one is taken (PostgreSQL).

    The same rule as `items_open_to`, written out as one statement because it runs on every lease
    (compiling the ORM query cost more than running it); a test checks that the two agree.

    The expert's own labels and skips in the project are left out by `NOT IN` over their item
    ids, read from the (expert, project, item) indexes once per statement into a hash. Partly
    labelled items come first, so an expert ahead of the others has all their own labelled items
    at the head of the order; with a correlated `NOT EXISTS` each of those cost an index probe
    and two counts on every request.
    """
    if domains is None:
        return None
    item, annotation, skip, project_table = (
        Item._meta.db_table,
        Annotation._meta.db_table,
        Skip._meta.db_table,
        Project._meta.db_table,
    )
    params: list[object] = [project.pk, False, Project.Status.ACTIVE]
    in_domains = ""
    if domains:
        placeholders = ", ".join(["%s"] * len(domains))
        in_domains = f" OR {{column}} IN ({placeholders})"
    item_domain = "i.domain = ''" + in_domains.format(column="i.domain")
    required = "p.required_domain = ''" + in_domains.format(column="p.required_domain")
    params += [*sorted(domains), *sorted(domains)]
    params += [project.labels_per_item, expert.pk, project.pk, expert.pk, project.pk]
    taken, taken_params = _slots_taken_sql(now=now, expert=expert)
    params += [*taken_params, project.labels_per_item]
    not_tried = ""
    if tried:
        not_tried = f"AND i.id NOT IN ({', '.join(['%s'] * len(tried))})"
        params += tried
    sql = f"""
        SELECT {columns(Item, "i")} FROM {item} i JOIN {project_table} p ON p.id = i.project_id
        WHERE i.project_id = %s AND i.is_gold = %s AND p.status = %s
          AND ({item_domain}) AND ({required})
          AND i.n_labels < %s
          AND i.id NOT IN (SELECT a.item_id FROM {annotation} a WHERE a.expert_id = %s AND a.project_id = %s)
          AND i.id NOT IN (SELECT k.item_id FROM {skip} k WHERE k.expert_id = %s AND k.project_id = %s)
          AND {taken} < %s
          {not_tried}
        ORDER BY i.n_labels DESC, i.priority DESC, i.id
        LIMIT 1"""
    if lock and connection.vendor == "postgresql":
        # Only the item's row: locking the joined project would queue every expert on it.
        sql += " FOR NO KEY UPDATE OF i SKIP LOCKED"
    found = fetch(sql, params, Item)
    return None if found is None else found[0]


def _locker(pk: int, *, wait: bool) -> Callable[[], Item | None]:
    """Finds item `pk` with its row locked; without `wait`, None when someone else holds it."""

    def find() -> Item | None:
        lock = Item.objects.select_for_update(no_key=True, skip_locked=not wait, of=("self",))
        return lock.filter(pk=pk).order_by().first()  # no ordering: the default one joins the project

    return find


class _NoRoom(Exception):
    def __init__(self, pk: int) -> None:
        self.pk = pk


def _try_lease(
    find: Callable[[], Item | None], *, project: Project, expert: User, now: datetime, rng: random.Random
) -> Assignment | int | None:
    """Lease the item `find` locks if it still has room under the lock.

    Returns the lease; else the pk of an item that turned out full; else None when `find` found
    nothing. A lock that gives no lease is let go at once (its savepoint is rolled back), so a
    request never holds one item while waiting for another: two requests cannot deadlock.
    """
    try:
        with transaction.atomic():
            item = find()
            if item is None:
                return None
            if not _has_room(item=item, project=project, expert=expert, now=now):
                raise _NoRoom(item.pk)
            return _lease(item=item, project=project, expert=expert, now=now, rng=rng)
    except _NoRoom as full:
        return full.pk


def gold_items_open_to(
    *, project: Project, expert: User, domains: list[str] | EllipsisType | None = ...
) -> QuerySet[Item]:
    """Gold checks of `project` that `expert` may be sent and has not answered or skipped. A gold
    item has no overlap: every expert can be checked on it."""
    return (
        items_eligible_for(Item.objects.filter(project=project, is_gold=True), expert=expert, domains=domains)
        .exclude(annotations__expert=expert)
        .exclude(skips__expert=expert)
    )


def _gold_due(*, project: Project, expert: User, rng: random.Random) -> bool:
    """Whether the next item should be a gold check. The chance is how far the expert's checks
    fall short of the project's rate once this item is counted: never when they are ahead, sure
    when a whole check behind. The rate holds to within one check, at no position one could learn.
    """
    if not project.gold_percent:
        return False
    done = Annotation.objects.filter(project=project, expert=expert).aggregate(
        total=Count("pk"), gold=Count("pk", filter=Q(item__is_gold=True))
    )
    shortfall = project.gold_percent * (done["total"] + 1) / 100 - done["gold"]
    return rng.random() < shortfall


def _lease(*, item: Item, project: Project, expert: User, now: datetime, rng: random.Random) -> Assignment:
    """A lease on `item` for `expert`: a new assignment, or their lapsed one on it renewed.

    One statement either way (an upsert on the one-row-per-item-and-expert constraint); every
    value is the server's own, and the database's constraints check them."""
    expires_at = now + timedelta(minutes=project.lease_minutes)
    # Which response shows on the left is drawn once per (item, expert) and kept on renewal.
    shown_left = rng.randrange(2) if project.randomize_sides else 0
    at, until = (connection.ops.adapt_datetimefield_value(moment) for moment in (now, expires_at))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Assignment._meta.db_table}
                    (project_id, item_id, expert_id, status, shown_left, leased_at, expires_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (item_id, expert_id) DO UPDATE
                SET status = excluded.status, leased_at = excluded.leased_at, expires_at = excluded.expires_at
                RETURNING id, shown_left""",
            [project.pk, item.pk, expert.pk, Status.ACTIVE, shown_left, at, until],
        )
        pk, shown_left = cursor.fetchone()
    assignment = Assignment(
        pk=pk,
        project=project,
        item=item,
        expert=expert,
        status=Status.ACTIVE,
        shown_left=shown_left,
        leased_at=now,
        expires_at=expires_at,
    )
    assignment._state.adding = False
    assignment._state.db = connection.alias
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
    rationale = judgment.rationale.strip()
    if project.rationale_required and not rationale:
        errors["rationale"] = "This project requires a rationale."
    elif len(rationale) > RATIONALE_MAX_CHARS:
        errors["rationale"] = too_long("The rationale", RATIONALE_MAX_CHARS)
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
    if not item_eligible(item, project=project, domains=expert_eligible_domains(user=expert)):
        raise ValidationError(
            "You can no longer label this item: the project is paused or archived, "
            "or your expert profile no longer covers it."
        )
    if assignment.status == Status.EXPIRED or assignment.expires_at <= now:
        # A late submission is still welcome while the slot it held is free.
        Item.objects.select_for_update(no_key=True, of=("self",)).get(pk=item.pk)  # for the count
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
        guideline_id=current_guideline_id(project),
        idempotency_key=key,
    )
    # Validated above (the judgment) or the server's own; the database's constraints check them.
    insert(annotation)
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
    # Written out: these run on every submission (see `_locked_with_project`).
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Item._meta.db_table} SET n_labels = n_labels + 1 WHERE id = %s", [item.pk])
        cursor.execute(
            f"UPDATE {Assignment._meta.db_table} SET status = %s WHERE id = %s",
            [assignment.status, assignment.pk],
        )
        cursor.execute(f"DELETE FROM {Draft._meta.db_table} WHERE assignment_id = %s", [assignment.pk])
    return Submission(annotation, created=True)


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


def _owned_for_update(assignment: Assignment, expert: User) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",)).select_related("project").get(pk=assignment.pk)
    )
    if assignment.expert_id != expert.pk:
        raise ValidationError("This item is assigned to someone else.")
    if assignment.status == Status.SUBMITTED:
        raise ValidationError("You already submitted this item.")
    if assignment.status == Status.SKIPPED:
        raise ValidationError("You skipped this item.")
    return assignment


def _extend(assignment: Assignment, *, expert: User, now: datetime) -> None:
    """Push the lease's end a full lease length past `now`. A lapsed lease is taken up again
    while its slot is still free (and the expert has not moved on to another item)."""
    project = assignment.project
    lapsed = assignment.status == Status.EXPIRED or assignment.expires_at <= now
    if lapsed:
        item = Item.objects.select_for_update(no_key=True, of=("self",)).get(pk=assignment.item_id)
        moved_on = (
            Assignment.objects.filter(project=project, expert=expert, status=Status.ACTIVE)
            .exclude(pk=assignment.pk)
            .exists()
        )
        if moved_on or not _has_room(item=item, project=project, expert=expert, now=now):
            raise LeaseLost(
                "Your time on this item ran out and the item went to other experts. "
                "What you entered is kept below; reload for your next item."
            )
    assignment.status = Status.ACTIVE
    assignment.expires_at = now + timedelta(minutes=project.lease_minutes)
    assignment.save(update_fields=["status", "expires_at"])


@transaction.atomic
def assignment_extend(*, assignment: Assignment, expert: User, now: datetime | None = None) -> Assignment:
    """The expert is still at work on the item (the page's heartbeat): keep their lease alive."""
    assignment = _owned_for_update(assignment, expert)
    _extend(assignment, expert=expert, now=now or timezone.now())
    return assignment


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
    assignment = _owned_for_update(assignment, expert)
    _extend(assignment, expert=expert, now=now)
    draft, _ = Draft.objects.update_or_create(
        assignment=assignment, defaults={"fields": kept, "saved_at": now}
    )
    return draft
