"""The one door to project-scoped data.

Every view, API endpoint, admin page, command and export that reads anything belonging to a
project asks here first. Permissions live on `Project` objects only (django-guardian, granted
through memberships); items, assignments, annotations and exports are reached by filtering on the
projects this module returns. Outsiders get 404 so that a project's existence never leaks;
members without the needed right get 403. Staff (the operator's own admins) see everything.
"""

from enum import StrEnum

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from labelhub.accounts import is_staff
from labelhub.models import User
from labelhub.rows import columns, fetch
from projects.models import (
    Client,
    Membership,
    Project,
    ProjectGroupObjectPermission,
    ProjectUserObjectPermission,
)

Role = Membership.Role


class Perm(StrEnum):
    VIEW = "view_project"
    LABEL = "label_project"
    REVIEW = "review_project"
    EXPORT = "export_project"
    MANAGE = "manage_project"


# What each role may do on its project. A membership grants exactly these object permissions.
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.EXPERT: frozenset({Perm.VIEW, Perm.LABEL}),
    Role.REVIEWER: frozenset({Perm.VIEW, Perm.REVIEW}),
    Role.MANAGER: frozenset({Perm.VIEW, Perm.REVIEW, Perm.EXPORT, Perm.MANAGE}),
    Role.VIEWER: frozenset({Perm.VIEW, Perm.EXPORT}),
}
# Nobody may grant a role ranked above their own, or change the role of someone ranked above.
ROLE_RANK: dict[str, int] = {Role.EXPERT: 1, Role.VIEWER: 1, Role.REVIEWER: 2, Role.MANAGER: 3}
STAFF_RANK = 100
LOOKUPS = frozenset({"code", "slug", "pk"})


def projects_for(user: User, perm: Perm) -> QuerySet[Project]:
    """The projects on which `user` holds `perm` (every project for staff)."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if is_staff(user):
        return Project.objects.all()
    return get_objects_for_user(user, f"projects.{perm}", klass=Project, accept_global_perms=False)


def _granted(user: User, project: Project) -> frozenset[str]:
    """The permissions `user` holds on `project`, its own and its groups', in one statement over
    guardian's direct tables. Hand-written: it runs on every labelling request, and compiling the
    ORM's union cost more than running it."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    own, via_group = ProjectUserObjectPermission._meta, ProjectGroupObjectPermission._meta
    membership = User.groups.through._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT p.codename FROM {own.db_table} o
                JOIN {Permission._meta.db_table} p ON p.id = o.permission_id
                WHERE o.user_id = %s AND o.content_object_id = %s
                UNION
                SELECT p.codename FROM {via_group.db_table} g
                JOIN {Permission._meta.db_table} p ON p.id = g.permission_id
                JOIN {membership.db_table} m ON m.group_id = g.group_id
                WHERE m.{membership.get_field("user").column} = %s AND g.content_object_id = %s""",
            [user.pk, project.pk, user.pk, project.pk],
        )
        return frozenset(codename for (codename,) in cursor.fetchall())


def has_project_perm(user: User, project: Project, perm: Perm) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return is_staff(user) or perm in _granted(user, project)


def _project_with_client(**lookup: str | int) -> Project | None:
    """The project found by `lookup`, its client read with it. Hand-written: it runs on every
    labelling request, and compiling the ORM's query cost more than running it."""
    fields = [Project._meta.pk if name == "pk" else Project._meta.get_field(name) for name in lookup]
    where = " AND ".join(f"p.{connection.ops.quote_name(field.column)} = %s" for field in fields)
    found = fetch(
        f"""SELECT {columns(Project, "p")}, {columns(Client, "c")}
            FROM {Project._meta.db_table} p JOIN {Client._meta.db_table} c ON c.id = p.client_id
            WHERE {where}""",
        [
            field.get_db_prep_value(value, connection)
            for field, value in zip(fields, lookup.values(), strict=True)
        ],
        Project,
        Client,
    )
    if found is None:
        return None
    project, client = found
    project.client = client
    return project


def project_for(user: User, perm: Perm, **lookup: str | int) -> Project:
    """The project found by `lookup` (code=, slug= or pk=) if `user` may `perm` it.

    404 for anyone who may not see the project at all, 403 for a member whose role lacks `perm`.
    By slug, "see" means export: only those who may see the client may use its internal key.
    """
    if not lookup or set(lookup) - LOOKUPS:
        raise ValueError(f"look a project up by one of {sorted(LOOKUPS)}")
    # The slug is the internal key (it often names the client): a member who may not see the
    # client (an expert, a reviewer) gets 404 for it too, so that probing slugs tells them nothing.
    visible = Perm.EXPORT if "slug" in lookup else Perm.VIEW
    # On every labelling request: the project, then what the user holds on it (not a search of
    # all the user's projects), so this costs two small queries whatever the user's history.
    project = _project_with_client(**lookup)
    if project is None or not user.is_authenticated or not user.is_active:
        raise Http404("No such project.")
    if is_staff(user):
        return project
    granted = _granted(user, project)
    if visible not in granted:
        raise Http404("No such project.")
    if perm not in granted:
        raise PermissionDenied("Your role in this project does not allow this.")
    return project


def role_rank(user: User, project: Project) -> int:
    """How high `user` stands in `project`: staff above all, then by their active role, else 0."""
    if is_staff(user):
        return STAFF_RANK
    membership = Membership.objects.filter(project=project, user=user, ended_at__isnull=True).first()
    return ROLE_RANK[membership.role] if membership else 0


def may_manage_members(user: User, project: Project) -> bool:
    return has_project_perm(user, project, Perm.MANAGE)
