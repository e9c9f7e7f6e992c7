"""Every change saved through the admin also lands in the audit trail."""

from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest

from labelhub.audit import Action, audit_record


class AuditedAdminMixin:
    """For a ModelAdmin: write an AuditEvent beside Django's own admin log for each change.

    Override `audit_target` to name the object (and its project) the way the trail should.
    """

    audit_changes = True  # False where a service called by the admin already audits

    def audit_target(self, obj: Model) -> tuple[Any, str]:
        """The project the change belongs to (or None) and how to name the object."""
        return None, f"{obj._meta.model_name} {obj}"

    def _audit(self, request: HttpRequest, obj: Model, action: str, message: Any) -> None:
        if not self.audit_changes:
            return
        project, target = self.audit_target(obj)
        audit_record(
            action=action,
            actor=request.user,
            project=project,
            request=request,
            target=target[:255],
            detail={"change": str(message)[:2000]},
        )

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._audit(request, obj, Action.ADMIN_ADDED, message)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._audit(request, obj, Action.ADMIN_CHANGED, message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet) -> Any:
        for obj in queryset:
            self._audit(request, obj, Action.ADMIN_DELETED, "deleted")
        return super().log_deletions(request, queryset)
