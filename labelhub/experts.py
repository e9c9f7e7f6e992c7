"""What an expert's vetting lets them be sent (read-only: vetting itself is `labelhub.services`)."""

from django.db.models import QuerySet

from labelhub.models import ExpertProfile, User
from labelhub.rows import Compiled

Status = ExpertProfile.Status


def expert_status(*, user: User) -> str | None:
    """The user's vetting status, or None when they have no expert profile."""
    if not user.is_authenticated:
        return None
    return ExpertProfile.objects.filter(user=user).values_list("vetting_status", flat=True).first()


def _vetted_domains(*, user: int) -> QuerySet[ExpertProfile]:
    # A row per domain of a vetted profile, a single NULL row for a vetted profile with no
    # domains, and no row at all when the user is not vetted.
    vetted = ExpertProfile.objects.filter(user_id=user, vetting_status=Status.VETTED)
    return vetted.order_by().values_list("domains__slug")


# Read on every lease and submission: compiled once (see `Compiled`).
_VETTED_DOMAINS = Compiled(_vetted_domains)


def expert_eligible_domains(*, user: User) -> frozenset[str] | None:
    """The domain slugs `user` is vetted for, or None when they may be sent no items at all.

    An empty set still means "vetted": such an expert receives the items that have no domain.
    """
    if not user.is_authenticated:
        return None
    rows = _VETTED_DOMAINS.rows(user=user.pk)
    if not rows:
        return None
    return frozenset(slug for (slug,) in rows if slug)
