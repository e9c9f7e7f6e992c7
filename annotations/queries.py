"""Query pieces shared by serving, progress pages and exports."""

from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

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
