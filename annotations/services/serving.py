"""Serving items to experts: the next item's lease, gold checks mixed in, and keeping a lease alive.

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
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from annotations.eligibility import (
    Standing,
    expert_standing,
    gold_items_open_to,
    item_has_room,
    item_servable,
    qualification_items_open_to,
    ranked_open_items,
)
from annotations.models import Annotation, Assignment
from annotations.queries import is_label, open_lease
from labelhub.experts import expert_eligible_domains
from labelhub.models import User
from labelhub.rows import Compiled
from projects.models import Item, Project

# How many locked-then-full candidates to step over before giving up for this request. Only a
# race can fill a candidate between the query and the lock, so a handful is plenty.
MAX_CANDIDATES = 20

# Candidates read per query, in serving order (the lock is then tried on each in turn).
CANDIDATE_WINDOW = 10

Status = Assignment.Status


class LeaseLost(Exception):
    """The lease ran out and the slot went to someone else before the submission arrived."""


@transaction.atomic
def assignment_next(
    *, project: Project, expert: User, now: datetime | None = None, rng: random.Random | None = None
) -> Assignment | None:
    """The expert's live lease in `project`, else a new lease on the next open item, else None.

    Order: partly labelled items first, then higher priority, then import order (shuffled within
    each rank when the project says so). Gold checks come in at the project's rate. An expert who
    has yet to qualify is served the qualification's items only, in random order; a paused
    expert, or one who failed the qualification, nothing (`expert_standing`).
    """
    now = now or timezone.now()
    rng = rng or random
    # Read once: eligibility (vetting, domains) decides both the resumed lease and the candidates.
    domains = expert_eligible_domains(user=expert)
    standing = expert_standing(project=project, expert=expert, now=now)
    # At most one (a database constraint): the open lease, live or lapsed.
    held = open_lease(project=project, expert=expert)
    if held is not None:
        if held.expires_at > now and item_servable(
            held.item, project=project, domains=domains, standing=standing
        ):
            return held
        # A lapsed lease no longer holds a slot; close it so the one-open-lease rule admits a new
        # one. So is a live lease the expert may no longer work on (suspended or paused since, or
        # no longer vetted for the item's domain): it is not resumed, and its slot goes back.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Assignment._meta.db_table} SET status = %s WHERE id = %s", [Status.EXPIRED, held.pk]
            )
    if not standing.standing.serves:
        return None
    if standing.standing == Standing.QUALIFYING:
        return _lease_qualification(project=project, expert=expert, now=now, rng=rng, domains=domains)
    # Gold checks are mixed into real work, never served once it has run out.
    if _gold_due(project=project, expert=expert, rng=rng) and next_open_item(
        project=project, expert=expert, now=now, domains=domains, lock=False
    ):
        gold = gold_items_open_to(project=project, expert=expert, domains=domains).order_by("pk").first()
        if gold is not None:
            return _lease(item=gold, project=project, expert=expert, now=now, rng=rng)
    return _lease_first_free(project=project, expert=expert, now=now, rng=rng, domains=domains)


def _lease_qualification(
    *, project: Project, expert: User, now: datetime, rng: random.Random, domains: frozenset[str] | None
) -> Assignment | None:
    """A lease on one of the qualification items open to the expert, drawn at random so that no
    two experts learn the test in the same order. (Like gold checks, they have no overlap.)

    An item they were shown and let lapse comes back first: otherwise waiting out leases would
    let an expert see the whole test and answer only the questions they like."""
    open_items = list(qualification_items_open_to(project=project, expert=expert, domains=domains))
    if not open_items:
        return None
    seen = set(
        Assignment.objects.filter(
            project=project, expert=expert, item__in=open_items, status__in=[Status.EXPIRED, Status.ACTIVE]
        ).values_list("item_id", flat=True)
    )
    shown = sorted((item for item in open_items if item.pk in seen), key=lambda item: item.pk)
    return _lease(
        item=shown[0] if shown else rng.choice(sorted(open_items, key=lambda item: item.pk)),
        project=project,
        expert=expert,
        now=now,
        rng=rng,
    )


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
    ranked = ranked_open_items(project=project, expert=expert, now=now, domains=domains)
    for pk in ranked.exclude(pk__in=tried).values_list("pk", flat=True)[:CANDIDATE_WINDOW]:
        outcome = _try_lease(_locker(pk, wait=True), project=project, expert=expert, now=now, rng=rng)
        if isinstance(outcome, Assignment):
            return outcome
    return None


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
    ranked = ranked_open_items(project=project, expert=expert, now=now, domains=domains)
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


def _first_open(*, lock: bool) -> Compiled:
    """`ranked_open_items(...)`'s first item leaving out `tried`, as a statement compiled once."""

    def build(
        *, project: int, overlap: int, expert: int, now: datetime, domains: list[str], tried: list[int]
    ) -> QuerySet[Item]:
        ranked = ranked_open_items(
            project=Project(pk=project, labels_per_item=overlap),
            expert=User(pk=expert),
            now=now,
            domains=domains,
        )
        if lock:
            # Only the item's row: locking the joined project would queue every expert on it.
            ranked = ranked.select_for_update(no_key=True, skip_locked=True, of=("self",))
        return ranked.exclude(pk__in=tried)[:1]

    return Compiled(build)


_FIRST_OPEN = {lock: _first_open(lock=lock) for lock in (False, True)}


def next_open_item(
    *,
    project: Project,
    expert: User,
    now: datetime,
    domains: frozenset[str] | None,
    tried: list[int] | None = None,
    lock: bool = True,
) -> Item | None:
    """The first of `ranked_open_items(...)`, leaving out `tried`; with `lock`, its row is locked
    unless someone else holds it, in which case the next one is taken (PostgreSQL).

    Run on every lease, so that queryset is compiled once per process (see `Compiled`): building
    and compiling it on each request cost more than running it.
    """
    if domains is None:
        return None
    return _FIRST_OPEN[lock].first(
        project=project.pk,
        overlap=project.labels_per_item,
        expert=expert.pk,
        now=now,
        domains=sorted(domains),
        tried=list(tried or ()),
    )


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
            if not item_has_room(item=item, project=project, expert=expert, now=now):
                raise _NoRoom(item.pk)
            return _lease(item=item, project=project, expert=expert, now=now, rng=rng)
    except _NoRoom as full:
        return full.pk


def _gold_due(*, project: Project, expert: User, rng: random.Random) -> bool:
    """Whether the next item should be a gold check. The chance is how far the expert's checks
    fall short of the project's rate once this item is counted: never when they are ahead, sure
    when a whole check behind. The rate holds to within one check, at no position one could learn.
    """
    if not project.gold_percent:
        return False
    done = Annotation.objects.filter(is_label(), project=project, expert=expert).aggregate(
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


def owned_for_update(assignment: Assignment, expert: User) -> Assignment:
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


def lease_extend(assignment: Assignment, *, expert: User, now: datetime) -> None:
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
        if moved_on or not item_has_room(item=item, project=project, expert=expert, now=now):
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
    assignment = owned_for_update(assignment, expert)
    lease_extend(assignment, expert=expert, now=now or timezone.now())
    return assignment
