"""Which items an expert may be sent, and which of them are open to them now (read-only).

The rule is written once, as querysets: `items_eligible_for` (vetting, domains, a live project),
`unanswered_by` (neither labelled nor skipped by the expert), then `open_work` (real work still
short of labels once the others' live leases are counted) and `open_gold` (gold checks, which
have no overlap). Serving, submission and every figure an expert sees ("items left") build on
these. The two statements that run on every lease are these querysets compiled once
(`labelhub.rows.Compiled`), not copies of them; `item_eligible` is the rule for an item already
in hand, tested against `items_eligible_for`.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import EllipsisType

from django.db.models import Expression, F, Q, QuerySet

from annotations.models import Annotation, Skip
from annotations.queries import annotations_per_item, is_label, live_leases_per_item
from labelhub.experts import expert_eligible_domains
from labelhub.models import User
from labelhub.rows import Compiled
from projects.models import Item, Membership, Project

# Partly labelled items first (finishing an item beats starting one), then priority, then import
# order; the `item_serving_order` index walks it.
SERVING_ORDER = ("-n_labels", "-priority", "pk")

Domains = Collection[str] | EllipsisType | None


class Standing(StrEnum):
    """What an expert may be served in a project, from what the quality controls left on their
    membership (`quality_status`, `qualified_at`, `retake_after`) and the project's settings."""

    WORK = "work"  # real work with gold checks mixed in
    QUALIFYING = "qualifying"  # the qualification's items only
    PAUSED = "paused"  # nothing: gold accuracy fell below the bar; a manager may reinstate
    FAILED = "failed"  # nothing: failed the qualification, no retake open yet

    @property
    def serves(self) -> bool:
        return self in (Standing.WORK, Standing.QUALIFYING)


@dataclass(frozen=True)
class ExpertStanding:
    standing: Standing
    retake_after: datetime | None = None  # FAILED: when a retake opens (None: not without a manager)
    attempt_since: datetime | None = None  # QUALIFYING: the current attempt counts answers from here


def standing_of(
    membership: Membership | None, *, project: Project, now: datetime, labelled: bool = False
) -> ExpertStanding:
    """The standing of the expert with `membership` (None: staff, who label without one).

    A qualification is for new experts: one who already has labels in the project (`labelled`:
    it was turned on after they started) works on without it."""
    if membership is None:
        return ExpertStanding(Standing.WORK)
    status = membership.quality_status
    if status == Membership.QualityStatus.PAUSED:
        return ExpertStanding(Standing.PAUSED)
    if status == Membership.QualityStatus.FAILED:
        retake = membership.retake_after
        if retake is None or retake > now:
            return ExpertStanding(Standing.FAILED, retake_after=retake)
        return ExpertStanding(Standing.QUALIFYING, attempt_since=retake)
    if project.qualification_items and membership.qualified_at is None and not labelled:
        return ExpertStanding(Standing.QUALIFYING)
    return ExpertStanding(Standing.WORK)


def _asks_qualification(membership: Membership | None, project: Project) -> bool:
    """Whether `standing_of` needs to know if the expert has labels in `project`."""
    return bool(
        membership is not None
        and project.qualification_items
        and membership.qualified_at is None
        and membership.quality_status == Membership.QualityStatus.ACTIVE
    )


def labelled_in(projects: Iterable[Project], *, expert: User) -> set[int]:
    """The ids of those of `projects` where `expert` has labels (qualification answers are none)."""
    return set(
        Annotation.objects.filter(is_label(), project__in=list(projects), expert=expert)
        .order_by()
        .values_list("project_id", flat=True)
        .distinct()
    )


def standing_notice(standing: ExpertStanding) -> str:
    """What the expert is told about their standing ("" when there is nothing to say). Kind
    words: these are vetted professionals, and a pause is a question for a manager, not a verdict."""
    match standing.standing:
        case Standing.PAUSED:
            return (
                "Your work on this project is paused: your recent answers on its check items fell "
                "below the project's accuracy bar. A project manager will review them and can "
                "reinstate you. Nothing you submitted is lost; thank you for your patience."
            )
        case Standing.FAILED if standing.retake_after is not None:
            return (
                "Thank you for taking this project's qualification. Your answers did not reach its "
                f"pass mark this time. You may retake it from {standing.retake_after:%d %B %Y, %H:%M} UTC."
            )
        case Standing.FAILED:
            return (
                "Thank you for taking this project's qualification. Your answers did not reach its "
                "pass mark this time, so its items are not open to you. A project manager can "
                "arrange a retake."
            )
        case Standing.QUALIFYING:
            return (
                "Qualification: before its real work, this project asks you to answer a few items "
                "whose answers are known. Take the time you need; your result decides whether the "
                "project's items open to you."
            )
    return ""


_STANDING_FIELDS = ("project_id", "quality_status", "qualified_at", "retake_after")


def expert_standing(*, project: Project, expert: User, now: datetime) -> ExpertStanding:
    """`standing_of` the expert's current membership of `project`."""
    membership = (
        Membership.objects.filter(project=project, user=expert, ended_at__isnull=True)
        .only(*_STANDING_FIELDS)
        .first()
    )
    return member_standing(membership, project=project, expert=expert, now=now)


def member_standing(
    membership: Membership | None, *, project: Project, expert: User, now: datetime
) -> ExpertStanding:
    """`standing_of` `membership` (`expert`'s, already read), asking whether they have labels
    only when that decides it."""
    labelled = _asks_qualification(membership, project) and bool(labelled_in([project], expert=expert))
    return standing_of(membership, project=project, now=now, labelled=labelled)


def expert_standings(
    *, projects: Iterable[Project], expert: User, now: datetime
) -> dict[int, ExpertStanding]:
    """`expert_standing` for each of `projects`, by project id, in one query."""
    projects = list(projects)
    memberships = {
        membership.project_id: membership
        for membership in Membership.objects.filter(
            project__in=projects, user=expert, ended_at__isnull=True
        ).only(*_STANDING_FIELDS)
    }
    asking = [project for project in projects if _asks_qualification(memberships.get(project.pk), project)]
    labelled = labelled_in(asking, expert=expert) if asking else set()
    return {
        project.pk: standing_of(
            memberships.get(project.pk), project=project, now=now, labelled=project.pk in labelled
        )
        for project in projects
    }


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


def item_servable(
    item: Item, *, project: Project, domains: frozenset[str] | None, standing: ExpertStanding
) -> bool:
    """Whether an expert may work on `item`, already in hand (a lease resumed, a submission):
    `item_eligible`, and of the kind their standing serves (the qualification's items while they
    qualify, else real work and gold checks)."""
    if not standing.standing.serves or not item_eligible(item, project=project, domains=domains):
        return False
    return item.is_qualification == (standing.standing == Standing.QUALIFYING)


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
    eligible = items_eligible_for(
        items.filter(is_gold=True, is_qualification=False), expert=expert, domains=domains
    )
    return unanswered_by(eligible, expert=expert, project=project)


def open_qualification(
    items: QuerySet[Item], *, expert: User, domains: Domains = ..., project: Project | None = None
) -> QuerySet[Item]:
    """The qualification items among `items` that `expert` may be sent: eligible and unanswered
    by them (a retake is taken on items not answered before)."""
    eligible = items_eligible_for(items.filter(is_qualification=True), expert=expert, domains=domains)
    return unanswered_by(eligible, expert=expert, project=project)


def qualification_items_open_to(*, project: Project, expert: User, domains: Domains = ...) -> QuerySet[Item]:
    """`open_qualification` of `project` for `expert`."""
    return open_qualification(
        Item.objects.filter(project=project), expert=expert, domains=domains, project=project
    )


def qualification_answers(*, project: Project, expert: User, since: datetime | None) -> QuerySet[Annotation]:
    """The expert's answers in their current qualification attempt (`since`: when it opened,
    `ExpertStanding.attempt_since`; None: the first attempt)."""
    answers = Annotation.objects.filter(project=project, expert=expert).exclude(is_label())
    return answers if since is None else answers.filter(submitted_at__gte=since)


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
