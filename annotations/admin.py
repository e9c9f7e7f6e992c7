from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotations.models import Annotation, Assignment, Skip
from annotations.progress import project_progress
from annotations.services import annotations_delete
from projects.admin_site import ProjectScopedAdmin
from projects.models import Project
from projects.permissions import Perm, has_project_perm


class ReadOnlyProjectAdmin(ProjectScopedAdmin):
    """Judgments are made on the labelling page, never edited here; reviewers may look.

    The project's slug often names the client, and a project or a guideline shows by it: to
    whoever may not see the client (a reviewer) they show as experts see them, by codename.
    """

    view_perm = Perm.REVIEW
    edit_perm = None
    shown_without_client = {"project": "project_codename", "guideline": "guideline_version"}

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_readonly_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        names = [field.name for field in self.model._meta.fields]
        if obj is not None and not has_project_perm(request.user, obj.project, Perm.EXPORT):
            names = [self.shown_without_client.get(name, name) for name in names]
        return names

    @admin.display(description="project")
    def project_codename(self, obj: Any) -> str:
        return obj.project.codename

    @admin.display(description="guideline")
    def guideline_version(self, obj: Any) -> str:
        return f"version {obj.guideline.version}" if obj.guideline_id else "-"


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyProjectAdmin):
    list_display = ["item", "expert", "preference", "strength", "active_seconds", "submitted_at"]
    list_filter = ["project", "expert", "preference", "strength", "item__is_gold", "item__domain"]
    search_fields = ["item__external_id", "expert__username"]
    list_select_related = ["item", "expert"]

    # Staff alone may delete (edit_perm is None); the service keeps the items' label counts.
    def delete_model(self, request: HttpRequest, obj: Annotation) -> None:
        annotations_delete(annotations=Annotation.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Annotation]) -> None:
        annotations_delete(annotations=queryset)


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


# The project page in the admin shows progress at a glance. Progress is this app's to compute and
# `projects` must not import `annotations`, so this app extends the project admin it registered.
BaseProjectAdmin = type(admin.site.get_model_admin(Project))


class ProjectWithProgressAdmin(BaseProjectAdmin):
    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.insert(0, ("Progress", {"fields": ["progress_at_a_glance"]}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "progress_at_a_glance"] if obj is not None else fields

    @admin.display(description="At a glance")
    def progress_at_a_glance(self, project: Project) -> str:
        progress = project_progress(project, identify_experts=True)
        items = reverse("admin:projects_item_changelist")
        annotations = reverse("admin:annotations_annotation_changelist")
        in_project = f"?project__id__exact={project.pk}"
        per_expert = format_html_join(
            ", ", "{} ({})", ((row.annotator, row.labels) for row in progress.per_expert)
        )
        return format_html(
            '<p><strong>{}</strong> items: <a href="{}">{} complete</a> ({}%), '
            '<a href="{}">{} in progress</a>, '
            '<a href="{}">{} not started</a>; {} skips.</p>'
            '<p><a href="{}">{} annotations</a>. Labels per expert: {}.</p>'
            '<p><a href="{}">Progress and exports page</a></p>',
            progress.items,
            f"{items}{in_project}&labelling=complete",
            progress.complete,
            progress.percent_complete,
            f"{items}{in_project}&labelling=in_progress",
            progress.in_progress,
            f"{items}{in_project}&labelling=not_started",
            progress.not_started,
            progress.skips,
            f"{annotations}{in_project}",
            progress.annotations,
            per_expert or "none yet",
            reverse("annotations:project", args=[project.code]),
        )


admin.site.unregister(Project)
admin.site.register(Project, ProjectWithProgressAdmin)
