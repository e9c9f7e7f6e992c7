"""Read-only figures about how far labelling has come."""

from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from annotations.models import Annotation
from annotations.queries import annotations_per_item, live_leases_per_item
from annotations.services import items_eligible_for
from labelhub.models import User
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item, Project


def items_left_for(*, expert: User, projects: QuerySet[Project]) -> dict[int, int]:
    """Per project id: items still short of labels that `expert` has neither labelled nor skipped,
    among those they may be sent (none unless vetted; only their domains and domainless items)."""
    rows = (
        items_eligible_for(Item.objects.filter(project__in=projects), expert=expert)
        .exclude(annotations__expert=expert)
        .exclude(skips__expert=expert)
        .alias(n_done=annotations_per_item())
        .filter(n_done__lt=F("project__labels_per_item"))
        .values("project")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["project"]: row["n"] for row in rows}


@dataclass(frozen=True)
class ExpertCount:
    annotator: str  # the username for the vendor's managers, else the pseudonymous id
    labels: int


@dataclass(frozen=True)
class Progress:
    items: int
    complete: int
    in_progress: int
    annotations: int
    skips: int
    per_expert: list[ExpertCount]

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
    counts = items.aggregate(
        total=Count("pk"),
        complete=Count("pk", filter=Q(n_done__gte=overlap)),
        in_progress=Count("pk", filter=Q(n_done__lt=overlap) & (Q(n_done__gt=0) | Q(n_live__gt=0))),
    )
    rows = (
        Annotation.objects.filter(project=project)
        .values("expert", "expert__username")
        .annotate(n=Count("pk"))
        .order_by("-n", "expert")
    )
    per_expert = [
        ExpertCount(
            row["expert__username"]
            if identify_experts
            else annotator_pseudonym(project_id=project.pk, user_id=row["expert"]),
            row["n"],
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
    )
