"""The Django admin as the managers' workplace, scoped by the firewall.

Managers get no global model rights and no `is_staff` flag: the site admits anyone who manages
or reviews a project, and every project-scoped ModelAdmin narrows its rows, its permissions and
its foreign-key choices to the projects `projects/permissions.py` returns. A foreign object's
admin URL answers 404, exactly like the rest of the app. Site-wide pages (users, clients, the
whole audit trail) keep Django's model-permission checks, which only staff pass.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BooleanField, DateField, Field, JSONField, Model, QuerySet
from django.forms import BaseModelFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path

from labelhub import forms
from labelhub.admin_audit import AuditedAdminMixin
from labelhub.converters import as_pk
from labelhub.models import User
from projects.models import Project
from projects.permissions import Perm, is_staff, projects_for

# A JSON field that refuses deeply nested JSON as invalid input (Django's raises RecursionError).
JSON_FORM_FIELD = {JSONField: {"form_class": forms.JSONField}}
NO_SUCH_OBJECT = "No such object."


def admitted_to_admin(user: User) -> bool:
    """Staff, and anyone who manages or reviews a project: the admin is their workplace."""
    if not (user.is_authenticated and user.is_active):
        return False
    return is_staff(user) or any(projects_for(user, perm).exists() for perm in (Perm.MANAGE, Perm.REVIEW))


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin login admits only `is_staff`; ours admits whom the site admits."""

    def confirm_login_allowed(self, user: User) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)
        if not admitted_to_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class LabelHubAdminSite(admin.AdminSite):
    site_header = "LabelHub administration"
    site_title = "LabelHub admin"
    index_title = "Projects and people"
    login_form = AdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        return admitted_to_admin(request.user)

    def get_urls(self) -> list:
        # Django's "view on site" shortcut finds an object of any model by its id, and answered
        # differently for one that exists (anyone's) and one that does not: ours looks first.
        return [
            path(
                "r/<path:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name=url.name,
            )
            if getattr(url, "name", None) == "view_on_site"
            else url
            for url in super().get_urls()
        ]

    def view_on_site(self, request: HttpRequest, content_type_id: str, object_id: str) -> HttpResponse:
        """Django's shortcut, for an object the viewer may see in this admin; any other id, of
        another client's object or of none, gets one and the same 404."""
        content_type = (
            ContentType.objects.filter(pk=content_type_id).first()
            if could_be_pk(ContentType._meta.pk, content_type_id)
            else None
        )
        model_admin = self._registry.get(content_type.model_class()) if content_type else None
        obj = None
        if model_admin is not None and model_admin.has_view_or_change_permission(request):
            try:
                obj = model_admin.get_object(request, unquote(object_id))
            except Http404:
                obj = None
        if obj is None or not model_admin.has_view_or_change_permission(request, obj):
            raise Http404(NO_SUCH_OBJECT)
        try:
            return contenttype_views.shortcut(request, content_type_id, object_id)
        except Http404:
            raise Http404(NO_SUCH_OBJECT) from None


def could_be_pk(pk: Field, value: str) -> bool:
    """Whether `value` is a well-formed id for `pk`, of a size the database can compare."""
    try:
        value = pk.to_python(value)
    except ValidationError:
        return False
    if isinstance(value, int):
        low, high = connection.ops.integer_field_range(pk.get_internal_type())
        return (low is None or value >= low) and (high is None or value <= high)
    return value is not None


class ListEditFormSet(BaseModelFormSet):
    """The changelist's list-edit formset: every row must name one of the objects the list shows.

    Django builds a new object for a row whose id is not among them (another client's, one that
    does not exist, none at all); such a row is refused, and with it the whole save.
    """

    def clean(self) -> None:
        super().clean()
        strays = [str(n) for n, form in enumerate(self.forms, start=1) if form.instance._state.adding]
        if strays:
            raise ValidationError(
                f"Row {', '.join(strays)} names no {self.model._meta.verbose_name} of this list, so "
                "nothing was saved. Reload the page and make your changes again.",
                code="not_on_list",
            )


class ScopedValuesListFilter(admin.AllValuesFieldListFilter):
    """Django's filter by a field's values, taking them from the rows the admin shows even when
    the field is across a relation (Django's own then lists the values of the whole table)."""

    def __init__(
        self, field: Field, request: HttpRequest, params: Any, model: Any, model_admin: Any, field_path: str
    ):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request)
            .distinct()
            .order_by(field_path)
            .values_list(field_path, flat=True)
        )


class ProjectListFilter(admin.RelatedOnlyFieldListFilter):
    """The projects of the rows shown, each by the name this viewer may know: its internal slug
    (which often names the client) only where they may export it, else the codename experts see."""

    def field_choices(self, field: Field, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        shown = model_admin.get_queryset(request).values_list(f"{self.field_path}__pk", flat=True)
        return project_choices(request, shown)


def project_choices(request: HttpRequest, shown: QuerySet) -> list[tuple[int, str]]:
    """The projects whose ids `shown` lists, each by the name this viewer may know."""
    overseen = set(projects_for(request.user, Perm.EXPORT).filter(pk__in=shown).values_list("pk", flat=True))
    return sorted(
        (
            (project.pk, str(project) if project.pk in overseen else project.codename)
            for project in Project.objects.filter(pk__in=shown)
        ),
        key=lambda choice: choice[1],
    )


def scoped_list_filter(model: type[Model], entry: Any) -> Any:
    """`entry` of a project-scoped admin's list_filter, with a filter that lists only the values
    of the rows the viewer is shown wherever Django's would list a whole table's."""
    if not isinstance(entry, str):
        return entry  # a filter class, or a (field, filter class) pair, chosen on purpose
    field = get_fields_from_path(model, entry)[-1]
    if field.is_relation:
        return (
            entry,
            ProjectListFilter if field.related_model is Project else admin.RelatedOnlyFieldListFilter,
        )
    if "__" in entry and not (field.choices or isinstance(field, (BooleanField, DateField))):
        return (entry, ScopedValuesListFilter)
    return entry  # the field's own values in the rows shown, or a fixed set of choices


class ProjectScopedAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """A ModelAdmin whose rows belong to projects: members see only their projects' rows.

    `project_path` leads from the model to its Project ("" for Project itself). Non-staff need
    `view_perm` on a row's project to see it and `edit_perm` to add, change or delete it.
    """

    project_path = "project"
    view_perm = Perm.MANAGE
    formfield_overrides = JSON_FORM_FIELD
    edit_perm: Perm | None = Perm.MANAGE  # None: nobody but staff edits these rows here

    # --- which rows ---

    def _lookup(self) -> str:
        return f"{self.project_path}__in" if self.project_path else "pk__in"

    def _projects(self, request: HttpRequest, perm: Perm) -> QuerySet[Project]:
        return projects_for(request.user, perm)

    def managed_project(self, request: HttpRequest, raw: str) -> Project | None:
        """The project with id `raw` if the user manages it, else None (never someone else's)."""
        pk = as_pk(raw)
        return projects_for(request.user, Perm.MANAGE).filter(pk=pk).first() if pk is not None else None

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if is_staff(request.user):
            return queryset
        return queryset.filter(**{self._lookup(): self._projects(request, self.view_perm)})

    def project_of(self, obj: Model) -> Project | None:
        if obj._state.adding:
            return None  # not stored, so in no project yet (e.g. a crafted list-edit row)
        for part in filter(None, self.project_path.split("__")):
            obj = getattr(obj, part)
        return obj

    def _allowed(self, request: HttpRequest, perm: Perm | None, obj: Model | None) -> bool:
        if is_staff(request.user):
            return True
        if perm is None:
            return False
        projects = self._projects(request, perm)
        if obj is None:
            return projects.exists()
        project = self.project_of(obj)
        return project is not None and projects.filter(pk=project.pk).exists()

    # --- what may be done (Django's has_*_permission vocabulary) ---

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, self.view_perm, None)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.view_perm, obj)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.edit_perm, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.edit_perm, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._allowed(request, self.edit_perm, obj)

    def _get_edited_object_pks(self, request: HttpRequest, prefix: str) -> list[str]:
        # Django's: the ids a list edit posts, which pick the rows to edit. An id that cannot be
        # one is left out (Django would load the whole list instead, and SQLite raises on a
        # number past 64 bits); ListEditFormSet then refuses its row.
        posted = super()._get_edited_object_pks(request, prefix)
        return [value for value in posted if could_be_pk(self.opts.pk, value)]

    def get_changelist_formset(self, request: HttpRequest, **kwargs: Any) -> Any:
        return super().get_changelist_formset(request, **{"formset": ListEditFormSet, **kwargs})

    def get_list_filter(self, request: HttpRequest) -> list:
        # Django's filters on a relation list every related row or value in the database, so a
        # "project" or "item__domain" filter would name other clients' projects and domains.
        # Offer only the values found in the rows this viewer is shown.
        return [scoped_list_filter(self.model, entry) for entry in super().get_list_filter(request)]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Project and not is_staff(request.user):
            kwargs["queryset"] = self._projects(request, self.edit_perm or self.view_perm)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Model:
        # The change, delete and history views all start here. A foreign object must look
        # absent exactly as the rest of the app says so, 404, before any permission is weighed
        # (Django would answer 403 or redirect with "doesn't exist").
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(NO_SUCH_OBJECT)
        return obj

    def audit_target(self, obj: Model) -> tuple[Project | None, str]:
        project = obj if isinstance(obj, Project) else self.project_of(obj)
        return project, f"{obj._meta.model_name} {obj}"


class ProjectScopedInline(admin.options.InlineModelAdmin):
    """Rows edited inside a project-scoped parent: they follow the parent's permissions."""

    formfield_overrides = JSON_FORM_FIELD

    def _parent_admin(self) -> ProjectScopedAdmin:
        return self.admin_site.get_model_admin(self.parent_model)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_admin().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_admin().has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_admin().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_admin().has_change_permission(request, obj)
