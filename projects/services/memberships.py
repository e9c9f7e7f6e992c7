"""Granting and revoking roles, with the conflict-of-interest rule between competing clients."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from labelhub.audit import Action, audit_record
from labelhub.models import User
from projects.models import Membership, Project
from projects.permissions import ROLE_PERMS, ROLE_RANK, is_staff, may_manage_members, role_rank
from projects.queries import conflicting_memberships


class GrantRefused(ValidationError):
    """A role grant or revocation that the rules forbid; the message says which rule."""


# What a manager is told when the person they name may not join: never that the account is staff
# or works for a competitor (nor, in the admin, that there is no such account). Code "person".
PERSON_REFUSED = "This person cannot be added."


def _person_refused(granted_by: User, reason: str) -> GrantRefused:
    """The refusal of a grant because of who the person is: why, only to staff (who see everyone
    and may override a conflict); anyone else learns no more than PERSON_REFUSED."""
    return GrantRefused(reason if is_staff(granted_by) else PERSON_REFUSED, code="person")


def _check_grant(*, project: Project, user: User, role: str, granted_by: User) -> None:
    if role not in ROLE_PERMS:
        raise GrantRefused({"role": f"Unknown role {role!r}."})
    if not may_manage_members(granted_by, project):
        raise GrantRefused("Only the project's managers and staff may change its members.")
    own = role_rank(granted_by, project)
    if ROLE_RANK[role] > own:
        raise GrantRefused({"role": "You cannot grant a role above your own."})
    if user != granted_by and role_rank(user, project) > own:
        raise _person_refused(granted_by, "You cannot change the role of someone ranked above you.")


@transaction.atomic
def membership_grant(
    *,
    project: Project,
    user: User,
    role: str,
    granted_by: User,
    override_reason: str = "",
    request: HttpRequest | None = None,
) -> Membership:
    """Make `user` a member of `project` with `role`, replacing any role they had there.

    Refused when the granter may not grant it, or when `user` is (or within the window was) a
    member of a competitor's project; staff may override a conflict with a recorded reason.
    """
    _check_grant(project=project, user=user, role=role, granted_by=granted_by)
    conflicts = conflicting_memberships(user=user, project=project)
    override_reason = override_reason.strip()
    if conflicts and not (is_staff(granted_by) and override_reason):
        raise _person_refused(
            granted_by,
            f"{user.get_username()} cannot join this project: they are, or in the last "
            f"{settings.CONFLICT_WINDOW_DAYS} days were, a member of a competing client's project. "
            "Staff may override this with a recorded reason.",
        )
    return record_grant(
        project=project,
        user=user,
        role=role,
        granted_by=granted_by,
        override_reason=override_reason if conflicts else "",
        conflicting=[c.project_id for c in conflicts],
        request=request,
    )


def record_grant(
    *,
    project: Project,
    user: User,
    role: str,
    granted_by: User,
    override_reason: str = "",
    conflicting: list[int] | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """Record the membership and its object permissions; the caller has checked the rules."""
    current = (
        Membership.objects.select_for_update()
        .filter(project=project, user=user, ended_at__isnull=True)
        .first()
    )
    if current is not None:
        if current.role == role:
            return current
        _end(current, ended_by=granted_by)
    membership = Membership(
        project=project, user=user, role=role, created_by=granted_by, conflict_override=override_reason
    )
    membership.full_clean(validate_unique=False, validate_constraints=False)
    membership.save()
    for perm in ROLE_PERMS[role]:
        assign_perm(f"projects.{perm}", user, project)
    audit_record(
        action=Action.ROLE_GRANTED,
        actor=granted_by,
        project=project,
        request=request,
        target=f"user {user.get_username()}",
        detail={"role": role, "previous_role": current.role if current else None},
    )
    if override_reason:
        audit_record(
            action=Action.CONFLICT_OVERRIDDEN,
            actor=granted_by,
            project=project,
            request=request,
            target=f"user {user.get_username()}",
            detail={"reason": override_reason, "conflicting_projects": conflicting or []},
        )
    return membership


def _end(membership: Membership, *, ended_by: User) -> None:
    for perm in ROLE_PERMS[membership.role]:
        remove_perm(f"projects.{perm}", membership.user, membership.project)
    membership.ended_at = timezone.now()
    membership.ended_by = ended_by
    membership.save(update_fields=["ended_at", "ended_by"])


@transaction.atomic
def membership_revoke(
    *, membership: Membership, revoked_by: User, request: HttpRequest | None = None
) -> None:
    """End a membership. The row stays, so the conflict-of-interest window still sees it."""
    if membership.ended_at is not None:
        return
    project = membership.project
    if not may_manage_members(revoked_by, project):
        raise GrantRefused("Only the project's managers and staff may change its members.")
    if membership.user != revoked_by and ROLE_RANK[membership.role] > role_rank(revoked_by, project):
        raise GrantRefused("You cannot remove someone ranked above you.")
    _end(membership, ended_by=revoked_by)
    audit_record(
        action=Action.ROLE_REVOKED,
        actor=revoked_by,
        project=project,
        request=request,
        target=f"user {membership.user.get_username()}",
        detail={"role": membership.role},
    )
