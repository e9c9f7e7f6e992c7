from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


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
        EXPERT_VETTED = "expert_vetted", "Expert vetted"
        EXPERT_REJECTED = "expert_rejected", "Expert rejected"
        EXPERT_SUSPENDED = "expert_suspended", "Expert suspended"
        EXPERT_REINSTATED = "expert_reinstated", "Expert reinstated"
        API_TOKEN_CREATED = "api_token_created", "API token created"
        API_TOKEN_REVOKED = "api_token_revoked", "API token revoked"
        QUALIFICATION_PASSED = "qualification_passed", "Qualification passed"
        QUALIFICATION_FAILED = "qualification_failed", "Qualification failed"
        QUALIFICATION_RETAKE = "qualification_retake", "Qualification retake allowed"
        EXPERT_PAUSED = "expert_paused", "Expert paused on a project"
        EXPERT_RESUMED = "expert_resumed", "Expert reinstated on a project"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    # Users are deactivated, never deleted, so the trail keeps its actors.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    # The username as typed, for failed logins (which may name no real account).
    actor_name = models.CharField(max_length=150, blank=True)
    # The project's id, not a foreign key: the core sits below the projects app and depends on
    # nothing above it. The trail outlives what it records, so a dangling id is kept, not cascaded.
    project_id = models.BigIntegerField(null=True, blank=True)
    target = models.CharField(max_length=255, blank=True, help_text="What was acted on, e.g. 'item a-17'.")
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project_id", "-created_at"], name="audit_project_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or self.actor} {self.action} {self.target}"


class Domain(models.Model):
    """A field of expertise that items are routed by (medicine, law, finance, …): a managed list.

    An item's `domain` names a domain by its slug; the importer lowercases item domains, so slugs
    are lowercase too or they would never match.
    """

    slug = models.SlugField(max_length=80, unique=True, help_text="As items name it, e.g. 'medicine'.")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(slug=Lower("slug")), name="domain_slug_lowercase"),
        ]

    def __str__(self) -> str:
        return self.name


class VettingStatus(models.TextChoices):  # beside the model, so that its constraint can name them
    APPLIED = "applied", "Applied"
    VETTED = "vetted", "Vetted"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"


class ExpertProfile(models.Model):
    """What the vendor knows about an expert, and whether they may be sent items at all.

    The vetting status moves only through the services in `labelhub/services.py`
    (applied → vetted or rejected; vetted ⇄ suspended), which record who moved it and when and
    write the audit trail. Only a vetted expert is served items, and only items in a domain
    they are vetted for or with no domain.
    """

    Status = VettingStatus

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="expert_profile"
    )
    domains = models.ManyToManyField(
        Domain, blank=True, related_name="experts", help_text="The domains this expert is vetted for."
    )
    credentials = models.TextField(
        blank=True, help_text="Degrees, licences, experience: what vetting rests on."
    )
    hourly_rate = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="USD per hour; blank until agreed."
    )
    vetting_status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLIED)
    # Users are deactivated, never deleted, so the one who changed the status stays known.
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vetting_status__in=VettingStatus.values),
                name="expertprofile_vetting_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(hourly_rate__gte=0), name="expertprofile_hourly_rate_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_vetting_status_display()})"
