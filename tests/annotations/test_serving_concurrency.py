"""Serving under real concurrency: many experts in threads, each with its own database connection.

PostgreSQL only (row locks, SKIP LOCKED); on SQLite these are skipped, and fail under
LABELHUB_REQUIRE_ALL=1. Time is passed to the services as `now=`, so no test waits for a lease.
"""

import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotations.models import Annotation, Assignment
from annotations.services import Judgment, LeaseLost, annotation_submit, assignment_next
from projects.models import Item, Membership, Project
from projects.services import membership_grant
from tests.conftest import staff_user
from tests.factories import ItemFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def experts_of(project: Project, n: int, prefix: str) -> list:
    staff = staff_user()
    experts = [UserFactory(username=f"{prefix}{i}") for i in range(n)]
    for expert in experts:
        membership_grant(project=project, user=expert, role=Membership.Role.EXPERT, granted_by=staff)
    return experts


def in_threads(work: Callable, args: list) -> list[BaseException]:
    """Run `work(arg)` for every arg at once, each in a thread with its own connection."""
    barrier = threading.Barrier(len(args))
    failures: list[BaseException] = []

    def run(arg) -> None:
        try:
            barrier.wait()
            work(arg)
        except BaseException as exc:  # reported to the test below
            failures.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return failures


def items_past_overlap(project: Project, now) -> list[int]:
    """Items whose judgments plus live leases exceed the overlap, counted in one statement."""
    live = Q(assignments__status=Assignment.Status.ACTIVE, assignments__expires_at__gt=now)
    return list(
        Item.objects.filter(project=project)
        .annotate(
            taken=Count("annotations", distinct=True) + Count("assignments", filter=live, distinct=True)
        )
        .filter(taken__gt=project.labels_per_item)
        .values_list("pk", flat=True)
    )


@pytest.mark.parametrize("overlap", [1, 2, 3])
def test_thirty_two_experts_at_once_label_everything_exactly_overlap_times(overlap):
    project = ProjectFactory(labels_per_item=overlap)
    items = [ItemFactory(project=project) for _ in range(12)]
    experts = experts_of(project, 32, "crowd")
    stored: list[tuple[int, int, int, uuid.UUID]] = []  # (annotation, expert, item, key) as returned
    served: dict[int, list[int]] = {expert.pk: [] for expert in experts}
    over: list[int] = []
    done = threading.Event()

    def label_until_nothing_left(expert) -> None:
        rng = random.Random(expert.pk)
        while (assignment := assignment_next(project=project, expert=expert)) is not None:
            served[expert.pk].append(assignment.item_id)
            time.sleep(rng.uniform(0, 0.005))
            key = uuid.uuid4()
            submission = annotation_submit(
                assignment=assignment, expert=expert, judgment=Judgment("A", 2, ""), idempotency_key=key
            )
            stored.append((submission.annotation.pk, expert.pk, assignment.item_id, key))

    def watch() -> None:
        # Meanwhile, in a connection of its own: no item ever holds more than its overlap.
        try:
            while not done.is_set():
                over.extend(items_past_overlap(project, timezone.now()))
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        failures = in_threads(label_until_nothing_left, experts)
    finally:
        done.set()
        watcher.join(timeout=30)
    assert not failures
    assert not over
    assert [Annotation.objects.filter(item=item).count() for item in items] == [overlap] * len(items)
    assert all(len(seen) == len(set(seen)) for seen in served.values())
    assert Annotation.objects.values("item", "expert").distinct().count() == Annotation.objects.count()
    # Every judgment the service acknowledged is there, as returned.
    assert len(stored) == len(items) * overlap
    assert set(Annotation.objects.values_list("pk", "expert_id", "item_id", "idempotency_key")) == set(stored)


def race_late_submit_against_next(
    *, project: Project, lapsed: Assignment, late, eager, now
) -> tuple[str, Assignment | None]:
    """`late` submits on its lapsed lease while `eager` asks for work, both at `now`, at once:
    ("stored" or "lost", what `eager` was leased)."""
    result: dict[str, object] = {}

    def act(who: str) -> None:
        if who == "eager":
            result["eager"] = assignment_next(project=project, expert=eager, now=now)
            return
        try:
            annotation_submit(
                assignment=lapsed,
                expert=late,
                judgment=Judgment("A", 3, ""),
                idempotency_key=uuid.uuid4(),
                now=now,
            )
            result["late"] = "stored"
        except LeaseLost:
            result["late"] = "lost"

    assert not in_threads(act, ["late", "eager"])
    return result["late"], result["eager"]


@pytest.mark.parametrize("overlap", [1, 2])
def test_a_late_submit_and_a_new_lease_on_its_freed_slot_never_both_win(overlap):
    """Expert A's lease has lapsed; A submits late while B asks for work, at the same moment.
    Either A's judgment is stored and B gets nothing (the item is full), or B takes the slot
    and A is told the lease was lost. Never both, never neither. Several rounds, as either may
    reach the item first."""
    for round_ in range(8):
        project = ProjectFactory(labels_per_item=overlap)
        item = ItemFactory(project=project)
        late, eager, *earlier = experts_of(project, 1 + overlap, f"r{round_}-")
        start = timezone.now()
        for expert in earlier:  # they fill all but one slot
            done = assignment_next(project=project, expert=expert, now=start)
            annotation_submit(
                assignment=done, expert=expert, judgment=Judgment("B", 1, ""), idempotency_key=uuid.uuid4()
            )
        lapsed = assignment_next(project=project, expert=late, now=start)
        assert lapsed.item == item
        after = start + timedelta(minutes=project.lease_minutes, seconds=1)

        outcome, leased = race_late_submit_against_next(
            project=project, lapsed=lapsed, late=late, eager=eager, now=after
        )

        stored = Annotation.objects.filter(item=item, expert=late).exists()
        if outcome == "stored":
            assert stored and leased is None
        else:
            assert not stored and leased is not None and leased.item == item
        assert Annotation.objects.filter(item=item).count() == overlap - 1 + stored
        assert not items_past_overlap(project, after)


class HeldLock:
    """Another request holding item `pk`'s row lock, in a thread and connection of its own, until
    released."""

    def __init__(self, pk: int) -> None:
        self.taken, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(pk,))
        self.thread.start()
        assert self.taken.wait(10), "the lock was not taken"

    def _hold(self, pk: int) -> None:
        try:
            with transaction.atomic():
                Item.objects.select_for_update(no_key=True).filter(pk=pk).order_by().first()
                self.taken.set()
                self.release.wait(10)
        finally:
            connection.close()

    def let_go(self) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_candidate_locked_this_instant_is_stepped_over(shuffle):
    project = ProjectFactory(labels_per_item=1, shuffle_items=shuffle)
    first, second = ItemFactory(project=project), ItemFactory(project=project)
    (expert,) = experts_of(project, 1, "stepper")
    held = HeldLock(first.pk)
    try:
        assignment = assignment_next(project=project, expert=expert)
    finally:
        held.let_go()
    assert assignment.item_id == second.pk


def test_when_the_only_open_item_is_locked_its_lock_is_waited_for_rather_than_saying_all_done():
    project = ProjectFactory(labels_per_item=1)
    only = ItemFactory(project=project)
    (expert,) = experts_of(project, 1, "waiter")
    held = HeldLock(only.pk)
    threading.Timer(0.3, held.let_go).start()
    started = time.monotonic()
    assignment = assignment_next(project=project, expert=expert)
    assert assignment is not None and assignment.item_id == only.pk
    assert time.monotonic() - started >= 0.25  # it did wait for the lock
