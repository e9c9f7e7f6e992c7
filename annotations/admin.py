from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations.models import Annotation, Assignment, Skip
from projects.admin_site import ProjectScopedAdmin
from projects.permissions import Perm


class ReadOnlyProjectAdmin(ProjectScopedAdmin):
    """Judgments are made on the labelling page, never edited here; reviewers may look."""

    view_perm = Perm.REVIEW
    edit_perm = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyProjectAdmin):
    list_display = ["item", "expert", "preference", "strength", "submitted_at"]
    list_filter = ["project", "preference", "strength"]
    search_fields = ["item__external_id", "expert__username"]
    list_select_related = ["item", "expert"]


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyProjectAdmin):
    list_display = ["item", "expert", "status", "shown_left", "expires_at"]
    list_filter = ["project", "status"]
    list_select_related = ["item", "expert"]


@admin.register(Skip)
class SkipAdmin(ReadOnlyProjectAdmin):
    list_display = ["item", "expert", "reason", "created_at"]
    list_filter = ["project", "reason"]
    list_select_related = ["item", "expert"]
