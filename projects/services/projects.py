"""Opening a project, and pausing, resuming or archiving projects."""

import secrets

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import slugify

from labelhub.audit import Action, audit_record
from labelhub.models import User
from projects.models import Membership, Project
from projects.permissions import is_staff, may_manage_members
from projects.queries import clients_managed_by
from projects.services.memberships import GrantRefused, record_grant


def project_key(name: str, base: str) -> str:
    """A new value for the project key `name` ("slug" or "code"): `base` as a slug with a random
    suffix, not yet used. The suffix is always there, so the key says nothing of other projects."""
    stem = slugify(base)[:60].strip("-") or "project"
    while True:
        key = f"{stem}-{secrets.token_hex(3)}"
        if not Project.objects.filter(**{name: key}).exists():
            return key


@transaction.atomic
def project_create(*, project: Project, created_by: User, request: HttpRequest | None = None) -> Project:
    """Open `project` (unsaved) for its client; a manager who opens it becomes its manager.

    A blank slug or code is made from the name or the codename (see `project_key`).
    """
    if not clients_managed_by(created_by).filter(pk=project.client_id).exists():
        raise GrantRefused({"client": "You can open projects only for clients whose projects you manage."})
    project.slug = project.slug or project_key("slug", project.name)
    project.code = project.code or project_key("code", project.codename)
    project.full_clean()
    project.save()
    if not is_staff(created_by):
        record_grant(
            project=project,
            user=created_by,
            role=Membership.Role.MANAGER,
            granted_by=created_by,
            request=request,
        )
    return project


@transaction.atomic
def project_set_status(
    *, projects: QuerySet[Project], status: str, by: User, request: HttpRequest | None = None
) -> int:
    """Pause, resume or archive projects `by` manages; returns how many changed."""
    if status not in Project.Status.values:
        raise ValueError(f"unknown project status {status!r}")
    changed = 0
    for project in projects.select_for_update(no_key=True):
        if not may_manage_members(by, project):
            raise GrantRefused(f"You do not manage {project}.")
        if project.status == status:
            continue
        previous, project.status = project.status, status
        project.save(update_fields=["status"])
        audit_record(
            action=Action.ADMIN_CHANGED,
            actor=by,
            project=project,
            request=request,
            target=f"project {project.slug}",
            detail={"status": status, "previous_status": previous},
        )
        changed += 1
    return changed
