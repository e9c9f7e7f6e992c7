"""The qualification attempts, read-only: the record a manager reads of each expert's result.

Graded by the quality controls (`quality.services.qualification_grade`) and never changed, so
nobody edits them here; a manager sees the attempts of the projects they manage only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from projects.admin_site import ProjectScopedAdmin
from quality.models import QualificationAttempt


@admin.register(QualificationAttempt)
class QualificationAttemptAdmin(ProjectScopedAdmin):
    list_display = ["expert", "project", "passed", "correct", "answered", "pass_percent", "finished_at"]
    list_filter = ["project", "passed"]
    search_fields = ["expert__username"]
    list_select_related = ["expert", "project"]
    # A graded attempt is history: nobody adds or changes one here. Only staff delete (edit_perm
    # None), as deleting a project of theirs takes its attempts with it.
    edit_perm = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
