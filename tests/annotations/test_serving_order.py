"""What an expert is served next: partly labelled items first, then priority, then import order;
gold checks mixed in at the project's rate; items many experts skip flagged for the manager."""

import itertools
import random
import uuid
from datetime import timedelta

import pytest
from django.db import models
from django.urls import reverse
from django.utils import timezone

from annotations.eligibility import item_eligible, item_has_room, items_open_to
from annotations.models import Annotation, Assignment
from annotations.progress import items_left_for, project_progress
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from annotations.services.serving import next_open_item
from labelhub.experts import expert_eligible_domains
from labelhub.models import ExpertProfile
from projects.models import Item, Membership, Project
from tests.conftest import member
from tests.factories import DomainFactory, FixedDraws, ItemFactory

NO_GOLD = FixedDraws(0.99)  # no draw makes a gold check due
GOLD_NOW = FixedDraws(0.0)  # every draw does


def items_left(project, expert) -> int:
    return items_left_for(expert=expert, projects=Project.objects.filter(pk=project.pk)).get(project.pk, 0)


def submit(assignment, expert, choice="A"):
    return annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, 2, ""),
        idempotency_key=uuid.uuid4(),
    )


def label(project, expert, choice="A", rng=NO_GOLD):
    assignment = assignment_next(project=project, expert=expert, rng=rng)
    submit(assignment, expert, choice)
    return assignment


def experts(project, n):
    return [member(project, f"expert-{i}", Membership.Role.EXPERT) for i in range(n)]


def test_higher_priority_items_come_first_then_import_order(acme, annotator):
    first, second, urgent = (ItemFactory(project=acme) for _ in range(3))
    Item.objects.filter(pk=urgent.pk).update(priority=5)
    assert label(acme, annotator).item == urgent
    assert label(acme, annotator).item == first
    assert label(acme, annotator).item == second


def test_a_partly_labelled_item_is_finished_before_a_fresh_one(acme, annotator, annotator2):
    acme.labels_per_item = 2
    acme.save()
    old, newer = ItemFactory(project=acme), ItemFactory(project=acme)
    Item.objects.filter(pk=old.pk).update(priority=1)
    third = member(acme, "third", Membership.Role.EXPERT)
    # annotator labels `old`; annotator2 is the second label of `old`; then third starts `newer`,
    # and `newer`, now partly labelled, goes to annotator before anything else would.
    assert label(acme, annotator).item == old
    assert label(acme, annotator2).item == old
    assert label(acme, third).item == newer
    fresh_but_urgent = ItemFactory(project=acme)
    Item.objects.filter(pk=fresh_but_urgent.pk).update(priority=9)
    assert label(acme, annotator).item == newer
    assert label(acme, annotator).item == fresh_but_urgent


def test_the_label_count_follows_every_submission_and_retry(acme, annotator):
    item = ItemFactory(project=acme)
    assignment = assignment_next(project=acme, expert=annotator, rng=NO_GOLD)
    key = uuid.uuid4()
    for _ in range(2):  # a retry of the same submission counts once
        annotation_submit(
            assignment=assignment, expert=annotator, judgment=Judgment("B", 1, ""), idempotency_key=key
        )
    item.refresh_from_db()
    assert item.n_labels == Annotation.objects.filter(item=item).count() == 1


def test_shuffling_serves_items_of_equal_standing_in_random_order(acme):
    acme.shuffle_items = True
    acme.labels_per_item = 1
    acme.save()
    items = [ItemFactory(project=acme) for _ in range(8)]
    urgent = ItemFactory(project=acme)
    Item.objects.filter(pk=urgent.pk).update(priority=3)
    served = [
        assignment_next(project=acme, expert=expert, rng=random.Random(seed)).item
        for seed, expert in enumerate(experts(acme, 9))
    ]
    assert served[0] == urgent  # priority still comes first
    assert sorted(i.pk for i in served[1:]) == [i.pk for i in items]
    assert [i.pk for i in served[1:]] != [i.pk for i in items]  # but not in import order


def test_without_shuffling_the_order_is_the_import_order(acme):
    acme.labels_per_item = 1
    acme.save()
    items = [ItemFactory(project=acme) for _ in range(5)]
    served = [assignment_next(project=acme, expert=e, rng=GOLD_NOW).item for e in experts(acme, 5)]
    assert served == items  # no gold items: a due check falls back to real work


@pytest.fixture
def golden(acme):
    acme.gold_percent = 20
    acme.labels_per_item = 1
    acme.save()
    work = [ItemFactory(project=acme, external_id=f"w-{i}") for i in range(40)]
    gold = [
        ItemFactory(project=acme, external_id=f"g-{i}", is_gold=True, gold_answer={"preference": "a"})
        for i in range(12)
    ]
    return work, gold


def test_gold_checks_come_in_at_the_projects_rate_and_never_run_past_real_work(acme, annotator, golden):
    work, _ = golden
    rng = random.Random(4)
    served = []
    while (assignment := assignment_next(project=acme, expert=annotator, rng=rng)) is not None:
        served.append(assignment.item)
        submit(assignment, annotator)
    n_gold = sum(item.is_gold for item in served)
    assert len(served) - n_gold == len(work)  # all the real work, each item once
    # 20% of what the expert did, give or take one check; gold never fills the queue on its own.
    assert abs(n_gold - 0.2 * len(served)) <= 1
    gaps = {b - a for a, b in itertools.pairwise(i for i, item in enumerate(served) if item.is_gold)}
    assert len(gaps) > 1  # not every fifth item: experts cannot tell a check by its position
    assert not served[-1].is_gold


def test_items_left_drops_by_one_after_every_item_so_a_gold_check_cannot_be_told_apart(
    acme, annotator, golden
):
    work, gold = golden
    rng = random.Random(4)
    left = [items_left(acme, annotator)]
    served = []
    while (assignment := assignment_next(project=acme, expert=annotator, rng=rng)) is not None:
        served.append(assignment.item.is_gold)
        submit(assignment, annotator)
        left.append(items_left(acme, annotator))
    assert any(served) and not all(served)
    assert left[0] == len(work) + len(gold)
    # One less after each item, gold check or not, until the real work (and with it gold) runs out.
    assert [before - after for before, after in itertools.pairwise(left[:-1])] == [1] * (len(served) - 1)
    assert left[-1] == 0


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("gold_percent", [0, 25])
def test_the_items_left_are_what_serving_still_gives_while_others_hold_leases(
    acme, annotator, annotator2, shuffle, gold_percent
):
    Project.objects.filter(pk=acme.pk).update(
        labels_per_item=1, shuffle_items=shuffle, gold_percent=gold_percent
    )
    acme.refresh_from_db()
    work = [ItemFactory(project=acme) for _ in range(6)]
    gold = [ItemFactory(project=acme, is_gold=True, gold_answer={"preference": "a"}) for _ in range(2)]
    held = assignment_next(project=acme, expert=annotator2, rng=NO_GOLD)  # its one slot, taken
    rng = random.Random(7)
    left = [items_left(acme, annotator)]
    served = []
    while (assignment := assignment_next(project=acme, expert=annotator, rng=rng)) is not None:
        served.append(assignment.item)
        submit(assignment, annotator)
        left.append(items_left(acme, annotator))
    assert held.item not in served
    assert sorted(item.pk for item in served if not item.is_gold) == sorted(
        item.pk for item in work if item != held.item
    )
    assert left[0] == len(work) - 1 + (len(gold) if gold_percent else 0)
    assert left[-1] == 0  # nothing is left when nothing more is served


def test_a_gold_item_is_not_limited_by_the_overlap(acme, annotator, annotator2, golden):
    first = assignment_next(project=acme, expert=annotator, rng=GOLD_NOW)
    second = assignment_next(project=acme, expert=annotator2, rng=GOLD_NOW)
    assert first.item.is_gold and second.item == first.item  # everyone is checked on it


def test_a_late_answer_to_a_gold_check_is_accepted_however_many_answered_it(
    acme, annotator, annotator2, golden
):
    late = assignment_next(project=acme, expert=annotator, rng=GOLD_NOW)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    submit(assignment_next(project=acme, expert=annotator2, rng=GOLD_NOW), annotator2)  # overlap 1 reached
    late.refresh_from_db()
    assert submit(late, annotator).created


def test_gold_accuracy_per_expert_on_the_project_page(client, manager, acme, annotator, annotator2, golden):
    for expert, choice in ((annotator, "A"), (annotator2, "B")):
        assignment = assignment_next(project=acme, expert=expert, rng=GOLD_NOW)
        assert assignment.item.is_gold
        # The expert's "A" is whatever was shown on the left: answer in the item's own terms.
        left_is_first = assignment.shown_left == 0
        submit(assignment, expert, choice if left_is_first else {"A": "B", "B": "A"}[choice])
        label(acme, expert)
    progress = project_progress(acme, identify_experts=True)
    by_name = {row.annotator: row for row in progress.per_expert}
    assert (by_name["acme-expert"].gold_correct, by_name["acme-expert"].gold_answered) == (1, 1)
    assert by_name["acme-expert2"].gold_accuracy == 0.0
    assert progress.items == 40 and progress.gold_items == 12  # checks are not counted as work
    client.force_login(manager)
    page = client.get(reverse("annotations:project", args=[acme.code])).content.decode()
    assert "1 of 1 right" in page and "100%" in page and "0 of 1 right" in page


def test_a_project_without_gold_checks_shows_no_gold_columns(client, manager, acme, annotator):
    ItemFactory(project=acme)
    label(acme, annotator)
    client.force_login(manager)
    page = client.get(reverse("annotations:project", args=[acme.code])).content.decode()
    assert "acme-expert" in page and "Gold accuracy" not in page and "0 of 0" not in page


@pytest.mark.parametrize("n_skips, flagged", [(1, False), (2, True)])
def test_items_skipped_by_several_experts_are_flagged_on_the_project_page(
    client, manager, acme, n_skips, flagged
):
    acme.labels_per_item = 3
    acme.save()
    item = ItemFactory(project=acme, external_id="broken-1")
    ItemFactory(project=acme)
    for expert, reason in zip(experts(acme, n_skips), ("content", "expertise"), strict=False):
        assignment = assignment_next(project=acme, expert=expert, rng=NO_GOLD)
        assert assignment.item == item
        assignment_skip(assignment=assignment, expert=expert, reason=reason)
    client.force_login(manager)
    page = client.get(reverse("annotations:project", args=[acme.code])).content.decode()
    assert ("broken-1" in page) is flagged
    if flagged:
        assert "Content problem (broken, unreadable, harmful) (1)" in page
        assert reverse("admin:projects_item_change", args=[item.pk]) in page
        listed = client.get(reverse("admin:projects_item_changelist"), {"skipped": "flagged"}).context["cl"]
        assert [i.external_id for i in listed.result_list] == ["broken-1"]
    else:
        assert "No item has been skipped by 2 or more experts" in page


def test_client_viewers_see_flagged_items_without_admin_links(client, viewer, acme):
    item = ItemFactory(project=acme, external_id="broken-2")
    for expert in experts(acme, 2):
        assignment_skip(
            assignment=assignment_next(project=acme, expert=expert, rng=NO_GOLD),
            expert=expert,
            reason="other",
        )
    client.force_login(viewer)
    page = client.get(reverse("annotations:project", args=[acme.code])).content.decode()
    assert "broken-2" in page and reverse("admin:projects_item_change", args=[item.pk]) not in page


def open_in_order_by_statement(project, expert, now, domains) -> list[str]:
    """Every item next_open_item would serve, in order, by asking it again leaving out the last."""
    tried: list[int] = []
    while item := next_open_item(project=project, expert=expert, now=now, domains=domains, tried=tried):
        tried.append(item.pk)
    return [Item.objects.get(pk=pk).external_id for pk in tried]


def open_in_order_by_orm(project, expert, now, domains) -> list[str]:
    open_items = items_open_to(project=project, expert=expert, now=now, domains=domains)
    ranked = open_items.order_by("-n_labels", "-priority", "pk")
    return list(ranked.values_list("external_id", flat=True))


@pytest.mark.parametrize("overlap", [1, 2, 3])
def test_serving_its_room_check_and_the_items_left_agree_with_items_open_to(
    acme, annotator, annotator2, overlap
):
    """The serving statement and the room check are `items_open_to` compiled once, and the items
    left are counted by the same rule. Over a project in every state an item can be in, for
    several experts, vettings and domains, project states and gold rates, all three agree (the
    statement in the ORM's order)."""
    acme.labels_per_item = overlap
    acme.save()
    now = timezone.now()
    third = member(acme, "third", Membership.Role.EXPERT)
    spec = {  # external id: (domain, priority, gold)
        "plain": ("", 0, False),
        "urgent": ("", 5, False),
        "med": ("medicine", 0, False),
        "law": ("law", 1, False),
        "gold": ("", 9, True),
        "gold-med": ("medicine", 0, True),
        "gold-judged-by-1": ("", 0, True),
        "judged-by-2": ("", 0, False),
        "skipped-by-1": ("", 0, False),
        "leased-by-2": ("", 0, False),
        "lapsed-lease-by-3": ("", 0, False),
        "leased-by-1": ("", 0, False),
        "judged-by-1": ("", 0, False),
        "judged-by-3-and-leased-by-two-others": ("", 0, False),
        "full": ("", 0, False),
    }
    items = {}
    for external_id, (domain, priority, gold) in spec.items():
        items[external_id] = ItemFactory(
            project=acme, external_id=external_id, domain=domain, priority=priority, is_gold=gold
        )

    def lease(item, expert, expires, status=Assignment.Status.ACTIVE):
        return Assignment.objects.create(
            project=acme,
            item=item,
            expert=expert,
            shown_left=0,
            leased_at=now,
            expires_at=expires,
            status=status,
        )

    def judge(item, expert):
        assignment = lease(item, expert, now, status=Assignment.Status.SUBMITTED)
        Annotation.objects.create(
            project=acme,
            item=item,
            expert=expert,
            assignment=assignment,
            preference="a",
            idempotency_key=uuid.uuid4(),
        )
        Item.objects.filter(pk=item.pk).update(n_labels=models.F("n_labels") + 1)

    judge(items["judged-by-2"], annotator2)
    judge(items["judged-by-1"], annotator)
    judge(items["gold-judged-by-1"], annotator)
    for filler in experts(acme, overlap):
        judge(items["full"], filler)
    skipped = lease(items["skipped-by-1"], annotator, now + timedelta(hours=1))
    assignment_skip(assignment=skipped, expert=annotator, reason="expertise")
    lease(items["leased-by-2"], annotator2, now + timedelta(hours=1))
    lease(items["lapsed-lease-by-3"], third, now - timedelta(minutes=1))
    lease(items["leased-by-1"], annotator, now + timedelta(hours=1))
    busy = items["judged-by-3-and-leased-by-two-others"]
    judge(busy, third)
    for name in ("busy-1", "busy-2"):
        lease(busy, member(acme, name, Membership.Role.EXPERT), now + timedelta(hours=1))
    domains_of = {slug: DomainFactory(slug=slug) for slug in ("medicine", "law")}
    checked = 0
    for status, required, gold_percent in (
        (Project.Status.ACTIVE, "", 0),
        (Project.Status.ACTIVE, "", 20),
        (Project.Status.ACTIVE, "law", 20),
        (Project.Status.PAUSED, "", 20),
    ):
        Project.objects.filter(pk=acme.pk).update(
            status=status, required_domain=required, gold_percent=gold_percent
        )
        acme.refresh_from_db()
        for expert in (annotator, annotator2, third):
            answered = set(expert.annotations.values_list("item", flat=True))
            answered |= set(expert.skips.values_list("item", flat=True))
            for vetting, slugs in (
                (ExpertProfile.Status.VETTED, []),
                (ExpertProfile.Status.VETTED, ["medicine"]),
                (ExpertProfile.Status.VETTED, ["medicine", "law"]),
                (ExpertProfile.Status.SUSPENDED, ["medicine"]),
            ):
                ExpertProfile.objects.filter(user=expert).update(vetting_status=vetting)
                expert.expert_profile.domains.set([domains_of[slug] for slug in slugs])
                domains = expert_eligible_domains(user=expert)
                case = (status, required, gold_percent, expert, vetting, slugs)
                by_orm = open_in_order_by_orm(acme, expert, now, domains)
                assert open_in_order_by_statement(acme, expert, now, domains) == by_orm, case
                unanswered = [
                    item
                    for item in items.values()
                    if item.pk not in answered and item_eligible(item, project=acme, domains=domains)
                ]
                with_room = {
                    item.external_id
                    for item in unanswered
                    if not item.is_gold and item_has_room(item=item, project=acme, expert=expert, now=now)
                }
                assert with_room == set(by_orm), case
                # Gold checks are counted where the project has a gold rate, while real work is left.
                gold_left = sum(item.is_gold for item in unanswered) if gold_percent else 0
                assert items_left(acme, expert) == (len(by_orm) + gold_left if by_orm else 0), case
                checked += len(by_orm)
    assert checked > 30  # most combinations do serve something
