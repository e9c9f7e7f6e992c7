"""Which items an expert may be sent, and which of them are open to them now (read-only).

The rule is written once, as querysets: `items_eligible_for` (vetting, domains, a live project),
`unanswered_by` (neither labelled nor skipped by the expert), then `open_work` (real work still
short of labels once the others' live leases are counted) and `open_gold` (gold checks, which
have no overlap). Serving, submission and every figure an expert sees ("items left") build on
these. The two statements that run on every lease are these querysets compiled once
(`labelhub.rows.Compiled`), not copies of them; `item_eligible` is the rule for an item already
in hand, tested against `items_eligible_for`.
"""

from collections.abc import Collection
from datetime import datetime
from types import EllipsisType

from django.db.models import Expression, F, Q, QuerySet

from annotations.models import Annotation, Skip
from annotations.queries import annotations_per_item, live_leases_per_item
from labelhub.experts import expert_eligible_domains
from labelhub.models import User
from labelhub.rows import Compiled
from projects.models import Item, Project

# Partly labelled items first (finishing an item beats starting one), then priority, then import
# order; the `item_serving_order` index walks it.
SERVING_ORDER = ("-n_labels", "-priority", "pk")

Domains = Collection[str] | EllipsisType | None


def items_eligible_for(items: QuerySet[Item], *, expert: User, domains: Domains = ...) -> QuerySet[Item]:
    """`items` narrowed to those `expert` may be sent: none unless their expert profile is vetted,
    then the items with no domain and those in a domain they are vetted for. (`domains`: the
    expert's eligible domains when the caller has read them already.)
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


def unanswered_by(items: QuerySet[Item], *, expert: User, project: Project | None = None) -> QuerySet[Item]:
    """`items` that `expert` has neither labelled nor skipped (`project`: the one project of all
    of `items`, which narrows the look-up to the expert's answers there).

    Left out by `NOT IN` over the expert's item ids, read from the (expert, project, item)
    indexes once per statement into a hash. Partly labelled items are served first, so an expert
    ahead of the others has all their own labelled items at the head of the order; with a
    correlated `NOT EXISTS` each of those cost an index probe and two counts on every request.
    """
    labelled, skipped = Annotation.objects.filter(expert=expert), Skip.objects.filter(expert=expert)
    if project is not None:
        labelled, skipped = labelled.filter(project=project), skipped.filter(project=project)
    return items.exclude(pk__in=labelled.values("item")).exclude(pk__in=skipped.values("item"))


def slots_taken(now: datetime, *, expert: User) -> Expression:
    """How many of an item's slots are taken for `expert`: its labels and the others' live leases."""
    return annotations_per_item() + live_leases_per_item(now, excluding=expert)


def open_work(
    items: QuerySet[Item],
    *,
    expert: User,
    now: datetime,
    domains: Domains = ...,
    overlap: int | F,
    project: Project | None = None,
) -> QuerySet[Item]:
    """The real work (not gold checks) among `items` that `expert` may be served now: eligible,
    unanswered by them, and short of the labels per item (`overlap`: the project's, or
    `F("project__labels_per_item")` across projects) once its labels and the other experts' live
    leases are counted. (`project`: as for `unanswered_by`.)"""
    eligible = items_eligible_for(items.filter(is_gold=False), expert=expert, domains=domains)
    return (
        unanswered_by(eligible, expert=expert, project=project)
        # The first filter is implied by the second; it lets the serving-order index skip the
        # full items instead of counting each one's labels and leases.
        .filter(n_labels__lt=overlap)
        .alias(n_taken=slots_taken(now, expert=expert))
        .filter(n_taken__lt=overlap)
    )


def open_gold(
    items: QuerySet[Item], *, expert: User, domains: Domains = ..., project: Project | None = None
) -> QuerySet[Item]:
    """The gold checks among `items` that `expert` may be sent: eligible and unanswered by them.
    A gold check has no overlap: every expert can be checked on it."""
    eligible = items_eligible_for(items.filter(is_gold=True), expert=expert, domains=domains)
    return unanswered_by(eligible, expert=expert, project=project)


def items_open_to(*, project: Project, expert: User, now: datetime, domains: Domains = ...) -> QuerySet[Item]:
    """`open_work` of `project` for `expert`."""
    items = Item.objects.filter(project=project)
    return open_work(
        items, expert=expert, now=now, domains=domains, overlap=project.labels_per_item, project=project
    )


def gold_items_open_to(*, project: Project, expert: User, domains: Domains = ...) -> QuerySet[Item]:
    """`open_gold` of `project` for `expert`."""
    return open_gold(Item.objects.filter(project=project), expert=expert, domains=domains, project=project)


def ranked_open_items(*, project: Project, expert: User, now: datetime, domains: Domains) -> QuerySet[Item]:
    """`items_open_to(...)` in serving order."""
    return items_open_to(project=project, expert=expert, now=now, domains=domains).order_by(*SERVING_ORDER)


def _slots_taken_of(*, item: int, expert: int, now: datetime) -> QuerySet[Item]:
    taken = slots_taken(now, expert=User(pk=expert))
    return Item.objects.filter(pk=item).order_by().annotate(n_taken=taken).values_list("n_taken")


# Counted on every lease and on every late submission.
_SLOTS_TAKEN = Compiled(_slots_taken_of)


def item_has_room(*, item: Item, project: Project, expert: User, now: datetime) -> bool:
    """Whether `item` has a slot for `expert` (`open_work`'s count), counted by a fresh statement:
    callers hold the item's lock."""
    if item.is_gold:
        return True  # a gold check has no overlap: every expert may answer it
    return _SLOTS_TAKEN.value(item=item.pk, expert=expert.pk, now=now) < project.labels_per_item
