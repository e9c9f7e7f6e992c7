"""Query pieces shared by serving, progress pages and exports."""

from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from annotations.models import Annotation, Assignment


def per_item_count(queryset: QuerySet) -> Coalesce:
    """A correlated subquery counting `queryset`'s rows for the outer item (0 when none)."""
    counted = (
        queryset.filter(item=OuterRef("pk")).order_by().values("item").annotate(n=Count("pk")).values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def live_leases(now: datetime) -> Q:
    return Q(status=Assignment.Status.ACTIVE, expires_at__gt=now)


def annotations_per_item() -> Coalesce:
    return per_item_count(Annotation.objects.all())


def live_leases_per_item(now: datetime, *, excluding=None) -> Coalesce:
    leases = Assignment.objects.filter(live_leases(now))
    if excluding is not None:
        leases = leases.exclude(expert=excluding)
    return per_item_count(leases)


def own_assignment(*, user, project, assignment_id: int) -> Assignment:
    """`user`'s assignment `assignment_id` in `project` (already checked by the permission door),
    with its item; 404 for anyone else's."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("item"), pk=assignment_id, project=project, expert=user
    )
    assignment.project = project  # the one the caller holds, not a second read of it
    return assignment
