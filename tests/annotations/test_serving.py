import random
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from annotations.models import Assignment
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from projects.models import Membership
from tests.conftest import member
from tests.factories import ItemFactory


def label(project, expert, choice: str = "A", strength: int | None = 2, rng=None):
    assignment = assignment_next(project=project, expert=expert, rng=rng)
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, strength, ""),
        idempotency_key=uuid.uuid4(),
    )
    return assignment


def test_it_serves_items_in_import_order_under_a_lease(acme, acme_items, annotator):
    before = timezone.now()
    assignment = assignment_next(project=acme, expert=annotator)
    assert assignment.item == acme_items[0]
    assert assignment.status == Assignment.Status.ACTIVE
    assert assignment.expires_at >= before + timedelta(minutes=acme.lease_minutes)


def test_a_second_request_resumes_the_live_lease(acme, acme_items, annotator):
    first = assignment_next(project=acme, expert=annotator)
    assert assignment_next(project=acme, expert=annotator) == first
    assert Assignment.objects.filter(expert=annotator).count() == 1


def test_two_experts_never_share_an_item_beyond_its_overlap(acme, acme_items, annotator, annotator2):
    acme.labels_per_item = 1
    acme.save()
    first = assignment_next(project=acme, expert=annotator)
    second = assignment_next(project=acme, expert=annotator2)
    assert first.item != second.item


def test_with_overlap_two_an_item_goes_to_two_experts_and_no_third(acme, annotator, annotator2):
    acme.labels_per_item = 2
    acme.save()
    only, spare = ItemFactory(project=acme), ItemFactory(project=acme)
    third = member(acme, "third", Membership.Role.EXPERT)
    assert assignment_next(project=acme, expert=annotator).item == only
    assert assignment_next(project=acme, expert=annotator2).item == only
    assert assignment_next(project=acme, expert=third).item == spare


def test_an_expert_never_gets_an_item_they_labelled(acme, annotator):
    acme.labels_per_item = 3
    acme.save()
    first, second = ItemFactory(project=acme), ItemFactory(project=acme)
    assert label(acme, annotator).item == first
    assert assignment_next(project=acme, expert=annotator).item == second


def test_an_expired_lease_frees_its_slot_for_the_next_request(acme, annotator, annotator2):
    item = ItemFactory(project=acme)
    stale = assignment_next(project=acme, expert=annotator)
    assert assignment_next(project=acme, expert=annotator2) is None  # the one slot is held
    Assignment.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assignment_next(project=acme, expert=annotator2).item == item


def test_the_expert_whose_lease_expired_gets_the_item_back_on_the_same_side(acme, annotator):
    acme.randomize_sides = True
    acme.save()
    ItemFactory(project=acme)
    first = assignment_next(project=acme, expert=annotator, rng=random.Random(1))
    Assignment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = assignment_next(project=acme, expert=annotator, rng=random.Random(99))
    assert again.pk == first.pk and again.shown_left == first.shown_left
    assert again.expires_at > timezone.now()


def test_when_everything_is_labelled_there_is_nothing_to_serve(acme, annotator):
    ItemFactory(project=acme)
    label(acme, annotator)
    assert assignment_next(project=acme, expert=annotator) is None


def test_a_skipped_item_is_never_served_to_that_expert_again_and_frees_the_slot(acme, annotator, annotator2):
    skipped, other = ItemFactory(project=acme), ItemFactory(project=acme)
    assignment = assignment_next(project=acme, expert=annotator)
    assignment_skip(assignment=assignment, expert=annotator, reason="expertise")
    assert assignment_next(project=acme, expert=annotator).item == other
    assert assignment_next(project=acme, expert=annotator2).item == skipped


def test_sides_are_randomised_per_assignment_when_the_project_asks(acme, annotator):
    acme.randomize_sides = True
    acme.save()
    for _ in range(40):
        ItemFactory(project=acme)
    rng = random.Random(7)
    sides = [label(acme, annotator, rng=rng).shown_left for _ in range(40)]
    assert 10 < sum(sides) < 30


def test_the_database_refuses_two_open_leases_for_one_expert_in_a_project(acme, acme_items, annotator):
    now = timezone.now()
    Assignment.objects.create(
        project=acme,
        item=acme_items[0],
        expert=annotator,
        leased_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    with pytest.raises(IntegrityError):
        Assignment.objects.create(
            project=acme,
            item=acme_items[1],
            expert=annotator,
            leased_at=now,
            expires_at=now + timedelta(minutes=5),
        )
