from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from labelhub.admin_audit import AuditedAdminMixin
from labelhub.models import Domain, ExpertProfile, User
from labelhub.services import expert_reinstate, expert_reject, expert_suspend, expert_vet

admin.site.register(User, UserAdmin)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    """Site-wide: staff only (Django's model permissions, which managers do not hold)."""

    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


@admin.register(ExpertProfile)
class ExpertProfileAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Site-wide: staff only. The vetting status changes only through the actions, which call
    the services (allowed moves, who and when, audit trail); the form never edits it."""

    list_display = [
        "user",
        "vetting_status",
        "domain_names",
        "hourly_rate",
        "status_changed_by",
        "status_changed_at",
    ]
    list_filter = ["vetting_status", "domains"]
    list_select_related = ["user", "status_changed_by"]
    search_fields = ["user__username"]
    filter_horizontal = ["domains"]
    raw_id_fields = ["user"]
    readonly_fields = ["vetting_status", "status_changed_by", "status_changed_at", "created_at"]
    actions = ["vet", "reject", "suspend", "reinstate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ExpertProfile]:
        return super().get_queryset(request).prefetch_related("domains")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A profile belongs to one person for good: moving it would hand them someone's vetting.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "user"] if obj is not None else fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # experts are suspended or rejected, and their vetting history kept

    @admin.display(description="Domains")
    def domain_names(self, profile: ExpertProfile) -> str:
        return ", ".join(domain.slug for domain in profile.domains.all()) or "—"

    # Domains and rates decide who is sent which items: record their changes beside the vetting.
    def audit_target(self, obj: Model) -> tuple[None, str]:
        return None, f"expert {obj.user.get_username()}"

    # --- the vetting actions ---

    def _move(
        self,
        request: HttpRequest,
        queryset: QuerySet[ExpertProfile],
        service: Callable[..., ExpertProfile],
        done: str,
    ) -> None:
        moved = 0
        for profile in queryset.select_related("user"):
            try:
                service(profile=profile, by=request.user, request=request)
                moved += 1
            except ValidationError as refused:
                self.message_user(request, f"{profile.user}: {' '.join(refused.messages)}", messages.ERROR)
            except PermissionDenied as refused:
                self.message_user(request, f"{profile.user}: {refused}", messages.ERROR)
        if moved:
            self.message_user(request, f"{done} {moved} expert(s).", messages.SUCCESS)

    @admin.action(description="Vet the selected experts", permissions=["change"])
    def vet(self, request: HttpRequest, queryset: QuerySet[ExpertProfile]) -> None:
        self._move(request, queryset, expert_vet, "Vetted")

    @admin.action(description="Reject the selected applications", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ExpertProfile]) -> None:
        self._move(request, queryset, expert_reject, "Rejected")

    @admin.action(description="Suspend the selected experts", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[ExpertProfile]) -> None:
        self._move(request, queryset, expert_suspend, "Suspended")

    @admin.action(description="Reinstate the selected experts", permissions=["change"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[ExpertProfile]) -> None:
        self._move(request, queryset, expert_reinstate, "Reinstated")
