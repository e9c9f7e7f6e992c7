"""The scoped admin of projects, items, guidelines and the audit trail (memberships: `admin_members`)."""

from copy import copy
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, QueryDict

from labelhub.converters import as_pk
from labelhub.markdown import render_markdown
from labelhub.models import AuditEvent

# The memberships' admin and its expert finder live in their own module; importing it registers them.
from projects import admin_members  # noqa: F401
from projects.admin_site import ProjectScopedAdmin, ProjectScopedInline, project_choices
from projects.importing import prompt_problem
from projects.models import Client, Guideline, Item, Project, Response, RubricCriterion
from projects.permissions import is_staff
from projects.queries import ITEM_CONTENT_FIELDS, clients_managed_by, labelled_items
from projects.rubrics import CriterionSpec, current_version, rubric_save
from projects.services import guideline_publish, items_set_qualification, project_create, project_set_status


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    """Site-wide: staff only (Django's model permissions, which managers do not hold)."""

    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    filter_horizontal = ["competitors"]


class RubricCriterionInline(ProjectScopedInline, admin.StackedInline):
    """The current version of the rubric; saving a version that has ratings makes the next one."""

    model = RubricCriterion
    extra = 0
    fields = [
        ("key", "label"),
        "description",
        ("scale_min", "scale_max"),
        "scale_texts",
        ("required", "asks_rationale"),
    ]
    verbose_name_plural = "rubric criteria (current version; ratings keep the version they were made under)"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        latest = (
            RubricCriterion.objects.filter(project=OuterRef("project")).order_by("-version").values("version")
        )
        return super().get_queryset(request).filter(version=Subquery(latest[:1]))


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin):
    project_path = ""
    list_display = ["name", "codename", "client", "kind", "status", "labels_per_item", "created_at"]
    list_filter = ["client", "kind", "status"]
    search_fields = ["slug", "name", "codename"]
    inlines = [RubricCriterionInline]
    actions = ["pause", "resume", "archive"]
    fieldsets = [
        (None, {"fields": ["client", "name", "slug", "codename", "code", "kind", "status"]}),
        (
            "Labelling",
            {
                "fields": [
                    "labels_per_item",
                    "allow_tie",
                    "allow_both_bad",
                    "strength_scale",
                    "rationale_required",
                    "randomize_sides",
                    "lease_minutes",
                    "required_domain",
                    "gold_percent",
                    "shuffle_items",
                ]
            },
        ),
        (
            "Quality",
            {
                "fields": [
                    "qualification_items",
                    "qualification_pass_percent",
                    "qualification_cooloff_days",
                    "gold_min",
                    "gold_bar_percent",
                    "min_seconds_per_1k_chars",
                ]
            },
        ),
        ("Money", {"fields": ["price_per_label"]}),
    ]

    # The slug and the code are keys across all clients: a manager who could type them would
    # learn from "already exists" which another client uses. Theirs are made for them.
    client_wide_keys = ("slug", "code")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None or is_staff(request.user):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in self.client_wide_keys]})
            for name, options in fieldsets
        ]

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict:
        return {"slug": ["name"], "code": ["codename"]} if obj is None and is_staff(request.user) else {}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A manager may open further projects for the clients they already work for.
        return clients_managed_by(request.user).exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)  # managers archive; deleting a project loses its labels

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Moving a project to another client would hand its data to that client.
        return ["client", *self.client_wide_keys] if obj is not None and not is_staff(request.user) else []

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "client":
            kwargs["queryset"] = clients_managed_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
        else:
            project_create(project=obj, created_by=request.user, request=request)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not RubricCriterion:
            return super().save_formset(request, form, formset, change)
        specs = [
            CriterionSpec(**{name: row.cleaned_data[name] for name in CriterionSpec.__dataclass_fields__})
            for row in formset.forms
            if row.cleaned_data and not row.cleaned_data.get("DELETE")
        ]
        before = current_version(form.instance)
        after = rubric_save(project=form.instance, criteria=specs)
        # The rubric service saved the rows; the admin's change message expects these lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if before is not None and after != before:
            self.message_user(
                request,
                f"Version {before} of the rubric has ratings, so your changes are "
                f"version {after}; earlier ratings keep version {before}.",
            )
        return None

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Project], status: str) -> None:
        changed = project_set_status(projects=queryset, status=status, by=request.user, request=request)
        self.message_user(request, f"{changed} project(s) now {Project.Status(status).label.lower()}.")

    @admin.action(description="Pause the selected projects (serve no items)", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        self._set_status(request, queryset, Project.Status.PAUSED)

    @admin.action(description="Resume the selected projects", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        self._set_status(request, queryset, Project.Status.ACTIVE)

    @admin.action(description="Archive the selected projects", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        self._set_status(request, queryset, Project.Status.ARCHIVED)


def is_labelled(item: Item | None) -> bool:
    return item is not None and labelled_items(Item.objects.filter(pk=item.pk)).exists()


class ResponseInline(ProjectScopedInline, admin.TabularInline):
    """An item's responses: read-only once the item is labelled (they are its content)."""

    model = Response
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_labelled(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_labelled(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not is_labelled(obj) and super().has_delete_permission(request, obj)


class LabellingStatusFilter(admin.SimpleListFilter):
    """Items by how far their labelling has come against the project's overlap."""

    title = "labelling status"
    parameter_name = "labelling"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("not_started", "Not started"), ("in_progress", "In progress"), ("complete", "Complete")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        overlap = F("project__labels_per_item")
        return {
            "not_started": queryset.filter(n_labels=0),
            "in_progress": queryset.filter(n_labels__gt=0, n_labels__lt=overlap),
            "complete": queryset.filter(n_labels__gte=overlap),
        }.get(self.value(), queryset)


class SkippedFilter(admin.SimpleListFilter):
    """Items several experts declined (the project page flags the same ones)."""

    title = "skips"
    parameter_name = "skipped"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("flagged", f"Skipped by {settings.SKIP_FLAG_MIN} or more"),
            ("any", "Skipped at least once"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        least = {"flagged": settings.SKIP_FLAG_MIN, "any": 1}.get(self.value())
        if least is None:
            return queryset
        return queryset.alias(n_skips=Count("skips")).filter(n_skips__gte=least)


class ItemForm(forms.ModelForm):
    """An item as the admin edits it: its prompt follows the import's rule."""

    def clean_prompt(self) -> Any:
        prompt = self.cleaned_data.get("prompt")
        problem = prompt_problem(prompt)
        if problem:
            raise forms.ValidationError(problem)
        return prompt


@admin.register(Item)
class ItemAdmin(ProjectScopedAdmin):
    form = ItemForm
    list_display = [
        "external_id",
        "project",
        "domain",
        "priority",
        "n_labels",
        "is_gold",
        "is_qualification",
        "created_at",
    ]
    list_editable = ["priority"]
    list_filter = [
        "project",
        LabellingStatusFilter,
        SkippedFilter,
        "domain",
        "is_gold",
        "is_qualification",
        "is_chat",
    ]
    actions = ["mark_qualification", "unmark_qualification"]
    search_fields = ["external_id"]
    readonly_fields = ["content_hash", "is_chat", "n_labels"]
    inlines = [ResponseInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A labelled item keeps its content, as the import keeps it; its priority may change.
        fields = list(super().get_readonly_fields(request, obj))
        if is_labelled(obj):
            fields += [name for name in ITEM_CONTENT_FIELDS if name not in fields]
        return fields

    @admin.action(description="Use the selected gold items for the qualification")
    def mark_qualification(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        self._set_qualification(request, queryset, True)

    @admin.action(description="Return the selected items to ordinary use")
    def unmark_qualification(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        self._set_qualification(request, queryset, False)

    def _set_qualification(self, request: HttpRequest, queryset: QuerySet[Item], value: bool) -> None:
        outcome = items_set_qualification(items=queryset, qualification=value)
        if outcome.changed:
            self.message_user(request, f"{outcome.changed} item(s) changed.", messages.SUCCESS)
        for problem in outcome.refused:
            self.message_user(request, problem, messages.ERROR)

    def get_urls(self) -> list:
        from django.urls import path

        from projects.admin_import import item_import

        def import_view(request: HttpRequest) -> Any:
            return item_import(request, self)

        # Before Django's own routes: their "<object_id>/" would otherwise swallow "import/".
        return [
            path("import/", self.admin_site.admin_view(import_view), name="projects_item_import"),
            *super().get_urls(),
        ]


class GuidelineForm(forms.ModelForm):
    class Meta:
        model = Guideline
        fields = ["project", "body"]


@admin.register(Guideline)
class GuidelineAdmin(ProjectScopedAdmin):
    """Each save publishes a new version; earlier versions are never edited.

    The add page starts from the project's current text (`?project=<id>`) and can preview the
    rendered markdown without saving; a version's own page shows it rendered.
    """

    form = GuidelineForm
    list_display = ["project", "version", "created_at", "created_by"]
    list_filter = ["project"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Guideline, form: Any, change: bool) -> None:
        published = guideline_publish(project=obj.project, body=obj.body, author=request.user)
        obj.pk, obj.version = published.pk, published.version

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        project = self.managed_project(request, str(initial.pop("project", "")))
        if project is not None:
            initial["project"] = project.pk
            current = project.guidelines.order_by("-version").first()
            initial.setdefault("body", current.body if current else "")
        return initial

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        if request.method != "POST" or "_preview" not in request.POST:
            return super().add_view(request, form_url, extra_context)
        # Nothing is saved: the add form is shown again, filled from the posted fields the way
        # the admin fills it from GET parameters. The CSRF check already ran on the POST.
        shown = copy(request)
        shown.method = "GET"
        shown.GET = QueryDict(mutable=True)
        shown.GET["body"] = request.POST.get("body", "")
        shown.GET["project"] = request.POST.get("project", "")
        preview = {"previewing": True, "preview": render_markdown(shown.GET["body"])}
        return super().add_view(shown, form_url, {**(extra_context or {}), **preview})

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None:
            context["rendered_body"] = render_markdown(obj.body)
        return super().render_change_form(request, context, add, change, form_url, obj)


class AuditProjectFilter(admin.SimpleListFilter):
    """By project, among the events shown (an event names its project by id: see AuditEvent)."""

    title = "project"
    parameter_name = "project_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        shown = model_admin.get_queryset(request).exclude(project_id=None).values("project_id")
        return project_choices(request, shown)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ""
        if not value:
            return queryset
        pk = as_pk(value)
        return queryset.filter(project_id=pk) if pk is not None else queryset.none()


@admin.register(AuditEvent)
class AuditEventAdmin(ProjectScopedAdmin):
    """Read-only for everyone: staff see the whole trail, managers their projects' events."""

    project_path = "project_id"
    edit_perm = None
    list_display = ["created_at", "action", "actor_name", "project", "target", "ip_address"]
    list_filter = ["action", AuditProjectFilter]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        slug = Project.objects.filter(pk=OuterRef("project_id")).values("slug")[:1]
        return super().get_queryset(request).annotate(project_slug=Subquery(slug))

    @admin.display(description="project", ordering="project_slug")
    def project(self, event: AuditEvent) -> str:
        return event.project_slug or ("" if event.project_id is None else f"project {event.project_id}")

    def project_of(self, obj: AuditEvent) -> Project | None:
        return Project.objects.filter(pk=obj.project_id).first()

    search_fields = ["actor_name", "target"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
