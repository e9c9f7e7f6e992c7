"""Read-only figures about how far labelling has come."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from annotations.eligibility import (
    Standing,
    expert_standings,
    open_gold,
    open_qualification,
    open_work,
    qualification_answers,
    standing_of,
)
from annotations.models import Annotation, Skip
from annotations.queries import annotations_per_item, gold_correct, is_label, live_leases_per_item
from labelhub.experts import expert_eligible_domains
from labelhub.models import User
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item, Membership, Project


def items_left_for(*, expert: User, projects: QuerySet[Project]) -> dict[int, int]:
    """Per project id: how many items `expert` may still be served there, by serving's own rule
    (`open_work` and `open_gold`): the real work open to them now, and the gold checks.

    Gold checks count like any other item, so the figure drops by one after each item whatever it
    was: otherwise an unchanged count would tell the expert they had just answered a check. They
    are served only mixed into real work (and only where the project has a gold rate), so they
    leave the count with the last real item. By the expert's standing: while they qualify, the
    qualification items left to them (at most its length); paused or failed, nothing.
    """
    now, domains = timezone.now(), expert_eligible_domains(user=expert)
    projects = list(projects)
    standings = expert_standings(projects=projects, expert=expert, now=now)
    working = [pk for pk, standing in standings.items() if standing.standing == Standing.WORK]
    qualifying = [pk for pk, standing in standings.items() if standing.standing == Standing.QUALIFYING]
    left: dict[int, int] = {}
    if working:
        items = Item.objects.filter(project__in=working)
        overlap = F("project__labels_per_item")
        work = _per_project(open_work(items, expert=expert, now=now, domains=domains, overlap=overlap))
        gold_rated = items.filter(project__in=list(work), project__gold_percent__gt=0)
        gold = _per_project(open_gold(gold_rated, expert=expert, domains=domains))
        left.update({project: n + gold.get(project, 0) for project, n in work.items()})
    if qualifying:
        # At most what is left of the qualification's length: all they will be served before it is
        # graded (a few projects at most are qualifying at once: one count each).
        by_pk = {project.pk: project for project in projects}
        asked = {
            pk: by_pk[pk].qualification_items
            - qualification_answers(
                project=by_pk[pk], expert=expert, since=standings[pk].attempt_since
            ).count()
            for pk in qualifying
        }
        tests = _per_project(
            open_qualification(Item.objects.filter(project__in=qualifying), expert=expert, domains=domains)
        )
        left.update({project: min(n, asked[project]) for project, n in tests.items()})
    return left


def _per_project(items: QuerySet[Item]) -> dict[int, int]:
    return dict(items.order_by().values("project").annotate(n=Count("pk")).values_list("project", "n"))


@dataclass(frozen=True)
class ExpertCount:
    annotator: str  # the username for the vendor's managers, else the pseudonymous id
    labels: int
    gold_answered: int = 0
    gold_correct: int = 0

    @property
    def gold_accuracy(self) -> float | None:
        """Share of gold checks answered as expected; None before the first one."""
        return self.gold_correct / self.gold_answered if self.gold_answered else None


@dataclass(frozen=True)
class FlaggedItem:
    """An item that several experts declined: worth a look before it holds the project up."""

    item_id: int
    external_id: str
    skips: int
    reasons: dict[str, int]  # reason label: how many


@dataclass(frozen=True)
class Progress:
    items: int  # the items to label; gold checks are counted apart
    complete: int
    in_progress: int
    annotations: int
    skips: int
    per_expert: list[ExpertCount]
    gold_items: int = 0
    flagged: list[FlaggedItem] = field(default_factory=list)

    @property
    def not_started(self) -> int:
        return self.items - self.complete - self.in_progress

    @property
    def percent_complete(self) -> int:
        return round(100 * self.complete / self.items) if self.items else 0


def project_progress(project: Project, *, identify_experts: bool = False) -> Progress:
    overlap = project.labels_per_item
    items = Item.objects.filter(project=project).alias(
        n_done=annotations_per_item(), n_live=live_leases_per_item(timezone.now())
    )
    work = Q(is_gold=False)
    counts = items.aggregate(
        total=Count("pk", filter=work),
        gold=Count("pk", filter=Q(is_gold=True, is_qualification=False)),
        complete=Count("pk", filter=work & Q(n_done__gte=overlap)),
        in_progress=Count("pk", filter=work & Q(n_done__lt=overlap) & (Q(n_done__gt=0) | Q(n_live__gt=0))),
    )
    gold = Q(item__is_gold=True)
    rows = (
        Annotation.objects.filter(is_label(), project=project)
        .values("expert", "expert__username")
        .annotate(
            n=Count("pk"),
            gold_answered=Count("pk", filter=gold),
            gold_correct=Count("pk", filter=gold_correct()),
        )
        .order_by("-n", "expert")
    )
    per_expert = [
        ExpertCount(
            row["expert__username"]
            if identify_experts
            else annotator_pseudonym(project_id=project.pk, user_id=row["expert"]),
            row["n"],
            row["gold_answered"],
            row["gold_correct"],
        )
        for row in rows
    ]
    return Progress(
        items=counts["total"],
        complete=counts["complete"],
        in_progress=counts["in_progress"],
        annotations=sum(row.labels for row in per_expert),
        skips=project.skips.count(),
        per_expert=per_expert,
        gold_items=counts["gold"],
        flagged=flagged_items(project),
    )


@dataclass(frozen=True)
class HeldBack:
    """How many of a project's experts the quality controls hold back, for its managers to see."""

    paused: int = 0  # gold accuracy below the bar
    failed: int = 0  # failed the qualification, no retake open yet

    def __bool__(self) -> bool:
        return bool(self.paused or self.failed)


def experts_held_back(project: Project, *, now: datetime | None = None) -> HeldBack:
    """The project's current experts whose standing (`standing_of`) serves them nothing: paused,
    or failed the qualification with no retake open. One read of the memberships concerned."""
    now = now or timezone.now()
    memberships = Membership.objects.filter(
        project=project,
        role=Membership.Role.EXPERT,
        ended_at__isnull=True,
        quality_status__in=[Membership.QualityStatus.PAUSED, Membership.QualityStatus.FAILED],
    ).only("quality_status", "qualified_at", "retake_after")
    standings = [standing_of(membership, project=project, now=now).standing for membership in memberships]
    return HeldBack(paused=standings.count(Standing.PAUSED), failed=standings.count(Standing.FAILED))


# Shown at most on the project page; the admin's item list filters them all.
FLAGGED_SHOWN = 50


def flagged_items(project: Project) -> list[FlaggedItem]:
    """Items skipped by at least SKIP_FLAG_MIN experts, most skipped first."""
    rows = list(
        Skip.objects.filter(project=project)
        .values("item", "item__external_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=settings.SKIP_FLAG_MIN)
        .order_by("-n", "item")[:FLAGGED_SHOWN]
    )
    reasons: dict[int, dict[str, int]] = {}
    labels = dict(Skip.Reason.choices)
    for row in (
        Skip.objects.filter(item__in=[r["item"] for r in rows])
        .values("item", "reason")
        .annotate(n=Count("pk"))
        .order_by("item", "-n", "reason")
    ):
        reasons.setdefault(row["item"], {})[labels.get(row["reason"], row["reason"])] = row["n"]
    return [FlaggedItem(r["item"], r["item__external_id"], r["n"], reasons.get(r["item"], {})) for r in rows]
