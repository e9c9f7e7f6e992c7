"""The memberships' admin: roles granted and ended through the services, and the add page's
expert finder (who may be added, found by username, domain and vetting status)."""

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from labelhub.models import Domain, ExpertProfile, User
from projects.admin_site import ProjectScopedAdmin
from projects.models import Client, Membership, Project
from projects.permissions import Perm, is_staff, projects_for
from projects.queries import memberships_in_conflict_with
from projects.services import PERSON_REFUSED, GrantRefused, membership_grant, membership_revoke


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

    # To a manager an unknown username looks like any other person who cannot be added.
    unknown_username = PERSON_REFUSED

    def clean_username(self) -> User:
        user = User.objects.filter(username=self.cleaned_data["username"], is_active=True).first()
        if user is None:
            raise ValidationError(self.unknown_username, code="person")
        return user


@admin.register(Membership)
class MembershipAdmin(ProjectScopedAdmin):
    """Grants and revocations go through the services: permissions, rules and audit in one place.

    The add page searches experts by username, domain and vetting status. It lists who they are
    and what they are vetted for, never where they work: that would tell one client about another.
    """

    form = MembershipForm
    list_display = ["user", "project", "role", "quality_status", "created_at", "ended_at"]
    list_filter = ["project", "role", "quality_status", ("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username"]
    actions = ["end_memberships"]
    audit_changes = False  # membership_grant and membership_revoke write the audit trail
    expert_search_limit = 50

    # Written by the quality controls and changed by a manager's reinstatement or retake on the
    # project's quality page (the services and the audit trail): shown here, never edited.
    quality_fields = ["quality_status", "quality_changed_at", "qualified_at", "retake_after"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, *self.quality_fields] if obj is not None else fields

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
            if is_staff(request.user):
                unknown_username = "No active user has this username."

            # Run the service's rules at validation time so a refusal shows on the form; one
            # because of who the person is shows where an unknown username does.
            def clean(self) -> dict:
                data = super().clean()
                user, project, role = data.get("username"), data.get("project"), data.get("role")
                if user and project and role:
                    try:
                        admin_view._check(request, project, user, role, data.get("override_reason", ""))
                    except GrantRefused as refused:
                        if getattr(refused, "code", None) != "person":
                            raise ValidationError(refused.messages) from refused
                        self.add_error("username", refused)
                return data

        return CheckedForm

    def _check(self, request: HttpRequest, project: Project, user: User, role: str, reason: str) -> None:
        # Dry run: grant inside a transaction that is always rolled back.
        with transaction.atomic():
            membership_grant(
                project=project, user=user, role=role, granted_by=request.user, override_reason=reason
            )
            transaction.set_rollback(True)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        project = self.managed_project(request, str(initial.pop("project", "")))
        if project is not None:
            initial["project"] = project.pk
        return initial

    def _expert_search(self, request: HttpRequest) -> dict[str, Any]:
        q = request.GET.get("q", "").strip()
        domain = request.GET.get("domain", "").strip()
        status = request.GET.get("status", ExpertProfile.Status.VETTED)  # "" means any status
        project = self.managed_project(request, request.GET.get("project", ""))
        profiles = ExpertProfile.objects.filter(user__is_active=True)
        if not is_staff(request.user):
            # Only people this manager could add: never staff, nor anyone a competitor of the
            # project's client (or of any client they manage) has had, nor what they work on.
            clients = Client.objects.filter(
                pk__in=[project.client_id]
                if project
                else projects_for(request.user, Perm.MANAGE).values("client")
            )
            conflicted = memberships_in_conflict_with(clients).values("user")
            profiles = profiles.filter(user__is_staff=False).exclude(user__in=conflicted)
        pool = profiles
        if q:
            profiles = profiles.filter(user__username__icontains=q)
        if domain:
            profiles = profiles.filter(domains__slug=domain)
        if status:
            profiles = profiles.filter(vetting_status=status)
        keep = {k: v for k, v in {"project": project.pk if project else "", "domain": domain}.items() if v}
        rows = [
            {
                "username": profile.user.username,
                "domains": ", ".join(d.name for d in profile.domains.all()),
                "status": profile.get_vetting_status_display(),
                "choose": "?" + urlencode({"username": profile.user.username, **keep}),
            }
            for profile in profiles.select_related("user")
            .prefetch_related("domains")
            .order_by("user__username")[: self.expert_search_limit]
        ]
        return {
            "q": q,
            "domain": domain,
            "status": status,
            "project": keep.get("project", ""),
            "domains": Domain.objects.order_by("name")
            if is_staff(request.user)
            else Domain.objects.filter(experts__in=pool).distinct().order_by("name"),
            "statuses": ExpertProfile.Status.choices,
            "rows": rows,
            "limit": self.expert_search_limit,
        }

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if add:  # reached only past the add-permission check
            context["expert_search"] = self._expert_search(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

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
