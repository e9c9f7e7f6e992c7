from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The account of anyone who signs in: experts, managers, client engineers and staff.

    A custom model from the first migration so that profile fields can be added later without
    the painful mid-project switch Django warns about.
    """

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class AuditEvent(models.Model):
    """Who did what, to which project. Append-only: rows are never changed or deleted.

    On PostgreSQL a trigger refuses UPDATE and DELETE on this table (migration 0003), so not
    even a bug or a shell session can rewrite history.
    """

    class Action(models.TextChoices):
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOGOUT = "logout", "Logged out"
        ROLE_GRANTED = "role_granted", "Role granted"
        ROLE_REVOKED = "role_revoked", "Role revoked"
        CONFLICT_OVERRIDDEN = "conflict_overridden", "Conflict of interest overridden"
        GUIDELINE_VIEWED = "guideline_viewed", "Guidelines viewed"
        EXPORT_DOWNLOADED = "export_downloaded", "Export downloaded"
        ADMIN_ADDED = "admin_added", "Added in the admin"
        ADMIN_CHANGED = "admin_changed", "Changed in the admin"
        ADMIN_DELETED = "admin_deleted", "Deleted in the admin"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    # Users are deactivated, never deleted, so the trail keeps its actors.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    # The username as typed, for failed logins (which may name no real account).
    actor_name = models.CharField(max_length=150, blank=True)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    target = models.CharField(max_length=255, blank=True, help_text="What was acted on, e.g. 'item a-17'.")
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or self.actor} {self.action} {self.target}"
