"""The one door to project-scoped data.

Every view, API endpoint, admin page, command and export that reads anything belonging to a
project asks here first. Permissions live on `Project` objects only (django-guardian, granted
through memberships); items, assignments, annotations and exports are reached by filtering on the
projects this module returns. Outsiders get 404 so that a project's existence never leaks;
members without the needed right get 403.
"""

from enum import StrEnum

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from labelhub.models import User
from projects.models import Membership, Project


class Perm(StrEnum):
    VIEW = "view_project"
    LABEL = "label_project"
    REVIEW = "review_project"
    EXPORT = "export_project"
    MANAGE = "manage_project"


# What each role may do on its project. A membership grants exactly these object permissions.
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Membership.Role.EXPERT: frozenset({Perm.VIEW, Perm.LABEL}),
    Membership.Role.REVIEWER: frozenset({Perm.VIEW, Perm.REVIEW}),
    Membership.Role.MANAGER: frozenset({Perm.VIEW, Perm.REVIEW, Perm.EXPORT, Perm.MANAGE}),
    Membership.Role.VIEWER: frozenset({Perm.VIEW, Perm.EXPORT}),
}


def projects_for(user: User, perm: Perm) -> QuerySet[Project]:
    """The projects on which `user` holds `perm` (every project for a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    return get_objects_for_user(user, f"projects.{perm}", klass=Project, accept_global_perms=False)


def has_project_perm(user: User, project: Project, perm: Perm) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(f"projects.{perm}", project)


def project_for(user: User, slug: str, perm: Perm) -> Project:
    """The project `slug` if `user` may `perm` it; 404 for outsiders, 403 for the wrong role."""
    project = projects_for(user, Perm.VIEW).select_related("client").filter(slug=slug).first()
    if project is None:
        raise Http404("No such project.")
    if perm is not Perm.VIEW and not has_project_perm(user, project, perm):
        raise PermissionDenied("Your role in this project does not allow this.")
    return project
