"""Read-only questions about projects, memberships and items that pages, the admin and the
services all ask. Nothing here writes; the writes are `projects.services`."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from labelhub.models import User
from projects.models import Client, Item, Membership, Project
from projects.permissions import Perm, is_staff, projects_for


def memberships_in_conflict_with(clients: QuerySet[Client]) -> QuerySet[Membership]:
    """Memberships, current or ended within the conflict window, in projects of the competitors
    of `clients`: their holders may not join those clients' projects."""
    window_start = timezone.now() - timedelta(days=settings.CONFLICT_WINDOW_DAYS)
    return Membership.objects.filter(
        project__client__in=Client.objects.filter(competitors__in=clients)
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=window_start))


def conflicting_memberships(*, user: User, project: Project) -> list[Membership]:
    """`user`'s memberships, current or ended within the window, in competitors' projects."""
    clients = Client.objects.filter(pk=project.client_id)
    return list(memberships_in_conflict_with(clients).filter(user=user).select_related("project"))


def clients_managed_by(user: User) -> QuerySet[Client]:
    """Clients a user may open new projects for: all for staff, else those of projects they manage."""
    if is_staff(user):
        return Client.objects.all()
    return Client.objects.filter(projects__in=projects_for(user, Perm.MANAGE)).distinct()


# An item's content: what its judgments were made on, and what its content hash covers (with
# its responses, their texts and models). See `labelled_items`.
ITEM_CONTENT_FIELDS = (
    "prompt",
    "is_chat",
    "domain",
    "metadata",
    "is_gold",
    "gold_answer",
    "is_qualification",
)


def labelled_items(items: QuerySet[Item]) -> QuerySet[Item]:
    """Those of `items` that already carry judgments. Their content never changes again (the
    import refuses it, the admin shows it read-only): it would silently change what the
    judgments mean."""
    return items.filter(annotations__isnull=False).distinct()
