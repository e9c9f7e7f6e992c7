from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from labelhub.models import AuditEvent, User
from projects.admin_site import ProjectScopedAdmin, ProjectScopedInline
from projects.models import Client, Guideline, Item, Membership, Project, Response
from projects.permissions import is_staff
from projects.services import GrantRefused, guideline_publish, membership_grant, membership_revoke


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    """Site-wide: staff only (Django's model permissions, which managers do not hold)."""

    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
    filter_horizontal = ["competitors"]


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin):
    project_path = ""
    list_display = ["name", "codename", "client", "labels_per_item", "created_at"]
    list_filter = ["client"]
    search_fields = ["slug", "name", "codename"]

    def get_prepopulated_fields(self, request: HttpRequest, obj: Any = None) -> dict:
        return {"slug": ["name"], "code": ["codename"]} if is_staff(request.user) else {}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)  # a project belongs to a client: staff open it

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_staff(request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Moving a project to another client would hand its data to that client.
        return [] if is_staff(request.user) else ["client", "slug"]


class ResponseInline(ProjectScopedInline):
    model = Response
    extra = 0


@admin.register(Item)
class ItemAdmin(ProjectScopedAdmin):
    list_display = ["external_id", "project", "domain", "is_chat", "created_at"]
    list_filter = ["project", "domain", "is_chat"]
    search_fields = ["external_id"]
    readonly_fields = ["content_hash", "is_chat"]
    inlines = [ResponseInline]


class GuidelineForm(forms.ModelForm):
    class Meta:
        model = Guideline
        fields = ["project", "body"]


@admin.register(Guideline)
class GuidelineAdmin(ProjectScopedAdmin):
    """Each save publishes a new version; earlier versions are never edited."""

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


class MembershipForm(forms.ModelForm):
    username = forms.CharField(help_text="The exact username of the person to add.")
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Staff only: why this person may join despite a conflict of interest.",
    )

    class Meta:
        model = Membership
        fields = ["project", "role"]

    def clean_username(self) -> User:
        user = User.objects.filter(username=self.cleaned_data["username"], is_active=True).first()
        if user is None:
            raise ValidationError("No active user has this username.")
        return user


@admin.register(Membership)
class MembershipAdmin(ProjectScopedAdmin):
    """Grants and revocations go through the services: permissions, rules and audit in one place."""

    form = MembershipForm
    list_display = ["user", "project", "role", "created_at", "ended_at"]
    list_filter = ["project", "role", ("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username"]
    actions = ["end_memberships"]
    audit_changes = False  # membership_grant and membership_revoke write the audit trail

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # memberships end (and are kept for the conflict window); they are never deleted

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        granted = membership_grant(
            project=obj.project,
            user=form.cleaned_data["username"],
            role=obj.role,
            granted_by=request.user,
            override_reason=form.cleaned_data.get("override_reason", ""),
            request=request,
        )
        obj.pk, obj.user, obj.created_at = granted.pk, granted.user, granted.created_at

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        admin_view = self

        class CheckedForm(form_class):
            # Run the service's rules at validation time so a refusal shows on the form.
            def clean(self) -> dict:
                data = super().clean()
                user, project, role = data.get("username"), data.get("project"), data.get("role")
                if user and project and role:
                    try:
                        admin_view._check(request, project, user, role, data.get("override_reason", ""))
                    except GrantRefused as refused:
                        raise ValidationError(refused.messages) from refused
                return data

        return CheckedForm

    def _check(self, request: HttpRequest, project: Project, user: User, role: str, reason: str) -> None:
        # Dry run: grant inside a transaction that is always rolled back.
        with transaction.atomic():
            membership_grant(
                project=project, user=user, role=role, granted_by=request.user, override_reason=reason
            )
            transaction.set_rollback(True)

    @admin.action(description="End the selected memberships", permissions=["add"])
    def end_memberships(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        ended = 0
        for membership in queryset.filter(ended_at__isnull=True).select_related("project", "user"):
            try:
                membership_revoke(membership=membership, revoked_by=request.user, request=request)
                ended += 1
            except GrantRefused as refused:
                self.message_user(request, f"{membership.user}: {' '.join(refused.messages)}", messages.ERROR)
        self.message_user(request, f"Ended {ended} membership(s).")


@admin.register(AuditEvent)
class AuditEventAdmin(ProjectScopedAdmin):
    """Read-only for everyone: staff see the whole trail, managers their projects' events."""

    edit_perm = None
    list_display = ["created_at", "action", "actor_name", "project", "target", "ip_address"]
    list_filter = ["action", "project"]
    search_fields = ["actor_name", "target"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
