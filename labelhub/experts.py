"""What an expert's vetting lets them be sent (read-only: vetting itself is `labelhub.services`)."""

from django.db import connection

from labelhub.models import Domain, ExpertProfile, User

Status = ExpertProfile.Status


def expert_status(*, user: User) -> str | None:
    """The user's vetting status, or None when they have no expert profile."""
    if not user.is_authenticated:
        return None
    return ExpertProfile.objects.filter(user=user).values_list("vetting_status", flat=True).first()


def expert_eligible_domains(*, user: User) -> frozenset[str] | None:
    """The domain slugs `user` is vetted for, or None when they may be sent no items at all.

    An empty set still means "vetted": such an expert receives the items that have no domain.
    """
    if not user.is_authenticated:
        return None
    # One statement: a row per domain of a vetted profile, a single NULL row for a vetted profile
    # with no domains, and no row at all when the user is not vetted. Hand-written: it runs on
    # every lease and submission, and compiling the ORM's join cost more than running it.
    through = ExpertProfile.domains.through._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT d.slug FROM {ExpertProfile._meta.db_table} e
                LEFT JOIN {through.db_table} ed ON ed.{through.get_field("expertprofile").column} = e.id
                LEFT JOIN {Domain._meta.db_table} d ON d.id = ed.{through.get_field("domain").column}
                WHERE e.user_id = %s AND e.vetting_status = %s""",
            [user.pk, Status.VETTED],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    return frozenset(slug for (slug,) in rows if slug)
