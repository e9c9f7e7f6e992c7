from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from projects.vocabulary import Preference


class Client(models.Model):
    """A tenant: one AI lab. Its name is never shown to experts."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    # Conflict of interest: nobody who works (or recently worked) for a competitor may join.
    competitors = models.ManyToManyField("self", blank=True, symmetrical=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# The vocabularies live beside their models rather than inside them, so that each model's check
# constraints can name their values (a Meta cannot see its model's class body).
class ProjectKind(models.TextChoices):
    PAIRWISE = "pairwise", "Pairwise comparison"
    RUBRIC = "rubric", "Rubric rating"
    BOTH = "both", "Rate each response, then choose"


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused (serves no items)"
    ARCHIVED = "archived", "Archived (finished: serves no items)"


class Project(models.Model):
    Kind = ProjectKind
    Status = ProjectStatus

    class StrengthScale(models.TextChoices):
        NONE = "none", "Not asked"
        THREE = "three", "Slightly / clearly / much better"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="projects")
    # The slug and the code are keys across all clients (the API, the commands and the web
    # addresses name a project by them alone), so managers do not choose them: "already taken"
    # would tell them another client's. `project_create` makes them. A codename is unique only
    # within its client, and so says nothing of other clients either.
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200, help_text="Internal name, seen by staff and the client.")
    codename = models.CharField(max_length=80, help_text="The only name experts ever see.")
    # The project's key in every web address: derived from the codename, so that neither the
    # client nor the internal slug shows up in an expert's address bar or page source.
    code = models.SlugField(max_length=80, unique=True, help_text="Web address key, from the codename.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PAIRWISE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    labels_per_item = models.PositiveSmallIntegerField(
        default=1, help_text="How many experts label each item (overlap)."
    )
    allow_tie = models.BooleanField(default=True)
    allow_both_bad = models.BooleanField(default=True)
    strength_scale = models.CharField(
        max_length=16, choices=StrengthScale.choices, default=StrengthScale.THREE
    )
    rationale_required = models.BooleanField(default=False)
    randomize_sides = models.BooleanField(
        default=True, help_text="Show the two responses in a random order per assignment."
    )
    lease_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="How long an expert holds an item before it is freed for others."
    )
    required_domain = models.CharField(
        max_length=80, blank=True, help_text="Only experts vetted for this domain work on the project."
    )
    gold_percent = models.PositiveSmallIntegerField(
        default=0,
        help_text="Share of each expert's items that are gold checks (0-50%). Gold items look like "
        "any other item; experts' answers on them give their accuracy.",
    )
    shuffle_items = models.BooleanField(
        default=False,
        help_text="Serve items of equal standing (labels so far, priority) in random order "
        "instead of import order.",
    )
    # Qualification: a test of gold items a new expert takes before any real work.
    qualification_items = models.PositiveSmallIntegerField(
        default=0,
        help_text="How many qualification items a new expert answers before real work (0: no "
        "qualification). Mark gold items as qualification items in the admin or the import.",
    )
    qualification_pass_percent = models.PositiveSmallIntegerField(
        default=80, help_text="The share of qualification answers an expert must get right (0-100%)."
    )
    qualification_cooloff_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Days after a failed qualification before the expert may retake it with other "
        "qualification items (0: at once). Empty: no retake unless a manager reinstates them.",
    )
    # Continuous gold: an expert whose gold accuracy is plainly below the bar is paused.
    gold_min = models.PositiveSmallIntegerField(
        default=10, help_text="Gold answers an expert gives before they can be paused for accuracy."
    )
    gold_bar_percent = models.PositiveSmallIntegerField(
        default=70,
        help_text="The gold accuracy experts must be able to reach (0-100%; 0: never pause). An "
        "expert is paused once even the top of their accuracy's 95% interval is below it.",
    )
    min_seconds_per_1k_chars = models.PositiveSmallIntegerField(
        "minimum seconds per 1,000 characters",
        default=10,
        help_text="A judgment made faster than this (active seconds per 1,000 characters of prompt "
        "and responses) is flagged as too fast in the quality figures and exports; 0 flags none.",
    )
    price_per_label = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="What the client pays per label (USD).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        # The permissions the firewall grants on a project object, role by role (roles.py).
        permissions = [
            ("label_project", "Label the project's items"),
            ("review_project", "See and review the project's annotations"),
            ("export_project", "Download the project's exports"),
            ("manage_project", "Configure the project, its items, guidelines and members"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(labels_per_item__gte=1), name="project_labels_per_item_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(lease_minutes__gte=1), name="project_lease_minutes_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ProjectKind.values), name="project_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ProjectStatus.values), name="project_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(gold_percent__lte=50), name="project_gold_percent_at_most_half"
            ),
            models.CheckConstraint(
                condition=models.Q(qualification_pass_percent__lte=100),
                name="project_qualification_pass_percent_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(gold_bar_percent__lte=100), name="project_gold_bar_valid"
            ),
            models.CheckConstraint(condition=models.Q(gold_min__gte=1), name="project_gold_min_positive"),
            models.UniqueConstraint(
                fields=["client", "codename"],
                name="project_codename_unique_per_client",
                violation_error_message="This client already has a project with this codename.",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def compares(self) -> bool:
        return self.kind in (self.Kind.PAIRWISE, self.Kind.BOTH)

    @property
    def rates(self) -> bool:
        return self.kind in (self.Kind.RUBRIC, self.Kind.BOTH)

    @property
    def asks_strength(self) -> bool:
        return self.strength_scale != self.StrengthScale.NONE


class RubricCriterion(models.Model):
    """One criterion of one version of a project's rubric.

    A rubric version is the set of criteria sharing (project, version). Ratings record the
    version they were made under; once a version has ratings it is never changed again: saving
    changes makes the next version.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="criteria")
    version = models.PositiveIntegerField(default=1)
    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(max_length=40, help_text="Stable name in exports, e.g. 'helpfulness'.")
    label = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    scale_min = models.SmallIntegerField(default=1)
    scale_max = models.SmallIntegerField(default=5)
    scale_texts = models.TextField(
        blank=True, help_text="Optional: one line per point of the scale, from the lowest."
    )
    required = models.BooleanField(default=True)
    asks_rationale = models.BooleanField(default=False, help_text="Offer a rationale box for this criterion.")

    class Meta:
        ordering = ["project_id", "version", "position", "id"]
        verbose_name_plural = "rubric criteria"
        constraints = [
            models.UniqueConstraint(fields=["project", "version", "key"], name="criterion_key_unique"),
            models.CheckConstraint(
                condition=models.Q(scale_min__lt=models.F("scale_max")), name="criterion_scale_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} (v{self.version})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        texts = self.point_texts
        if self.scale_min >= self.scale_max:
            raise ValidationError({"scale_max": "The top of the scale must be above its bottom."})
        if texts and len(texts) != self.scale_max - self.scale_min + 1:
            raise ValidationError(
                {
                    "scale_texts": (
                        f"Give one line per point: {self.scale_max - self.scale_min + 1} lines for "
                        f"{self.scale_min} to {self.scale_max}, or none."
                    )
                }
            )

    @property
    def point_texts(self) -> list[str]:
        return [line.strip() for line in self.scale_texts.splitlines() if line.strip()]

    @property
    def points(self) -> list[tuple[int, str]]:
        texts = self.point_texts
        values = range(self.scale_min, self.scale_max + 1)
        return [(value, texts[i] if texts else "") for i, value in enumerate(values)]


# Direct foreign-key permission tables (guardian's performance guide): object permissions on
# projects are joined by integer key rather than through generic (content type, text pk) rows.
class ProjectUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class ProjectGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Project, on_delete=models.CASCADE)


class MembershipRole(models.TextChoices):
    EXPERT = "expert", "Expert"
    REVIEWER = "reviewer", "Reviewer"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Client viewer"


class QualityStatus(models.TextChoices):
    """An expert's standing in a project as the quality controls (app `quality`) left it."""

    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused (gold accuracy below the bar)"
    FAILED = "failed", "Failed the qualification"


class Membership(models.Model):
    Role = MembershipRole
    QualityStatus = QualityStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Ended memberships are kept: the conflict-of-interest window looks back over them.
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    conflict_override = models.TextField(
        blank=True, help_text="Why staff admitted this member despite a conflict of interest."
    )
    # Written by the quality controls only (experts' memberships); serving reads them.
    quality_status = models.CharField(
        max_length=16, choices=QualityStatus.choices, default=QualityStatus.ACTIVE
    )
    quality_changed_at = models.DateTimeField(null=True, blank=True)
    qualified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the expert passed the qualification."
    )
    # After a failed qualification: when a retake may start (empty: none without a manager).
    retake_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"],
                condition=models.Q(ended_at__isnull=True),
                name="membership_one_role_per_project",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=MembershipRole.values),
                name="membership_role_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(quality_status__in=QualityStatus.values),
                name="membership_quality_status_valid",
            ),
            # Only a failed qualification waits for a retake.
            models.CheckConstraint(
                condition=models.Q(retake_after__isnull=True) | models.Q(quality_status=QualityStatus.FAILED),
                name="membership_retake_only_after_failing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} · {self.project}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class Guideline(models.Model):
    """One version of a project's guidelines. Versions are never edited, only added."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    version = models.PositiveIntegerField()
    body = models.TextField(help_text="Markdown.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        ordering = ["project_id", "-version"]
        get_latest_by = "version"
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="guideline_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project} guidelines v{self.version}"


class GuidelineView(models.Model):
    """One showing of a guideline to one person. Its id is the fingerprint woven into the text."""

    guideline = models.ForeignKey(Guideline, on_delete=models.PROTECT, related_name="views")
    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    viewed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.guideline} seen by {self.viewer} at {self.viewed_at:%Y-%m-%d %H:%M}"


class Item(models.Model):
    """A prompt and its candidate responses, as imported."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200)
    # Either a plain string or a list of {"role", "content"} chat messages.
    prompt = models.JSONField()
    is_chat = models.BooleanField(default=False)
    domain = models.CharField(max_length=80, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Gold items have a known answer; they check experts' accuracy (served like any other item).
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(
        null=True, blank=True, help_text='The expected judgment, e.g. {"preference": "a"}.'
    )
    # A qualification item is a gold item kept for the qualification test: served only to experts
    # who have not qualified yet, never mixed into real work, never exported.
    is_qualification = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A gold item of the project's qualification test (served first, never exported).",
    )
    # sha256 of the canonical item content: tells a re-import of the same item from a change.
    content_hash = models.CharField(max_length=64)
    priority = models.IntegerField(
        default=0, db_default=0, help_text="Items with a higher priority are served first."
    )
    # Annotations submitted so far, counted by the submit service in the same transaction. Serving
    # walks an index on it (partly labelled items first, full ones out of range) instead of
    # counting every item's annotations on every request.
    n_labels = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_external_id_unique"),
            models.CheckConstraint(
                condition=models.Q(is_qualification=False) | models.Q(is_gold=True),
                name="item_qualification_is_gold",
                violation_error_message="A qualification item must be a gold item with its answer.",
            ),
        ]
        indexes = [
            # The serving order: partly labelled first, then priority, then import order.
            models.Index(fields=["project", "-n_labels", "-priority", "id"], name="item_serving_order"),
        ]

    def __str__(self) -> str:
        return self.external_id

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if not self.is_gold:
            return
        answer = self.gold_answer if isinstance(self.gold_answer, dict) else {}
        if answer.get("preference") not in Preference.values:
            raise ValidationError(
                {
                    "gold_answer": (
                        'A gold item needs its expected answer, e.g. {"preference": "a"} '
                        '("a" is the first response; also "b", "tie" or "both_bad").'
                    )
                }
            )

    @property
    def messages(self) -> list[dict[str, str]]:
        """The prompt as chat messages (a plain prompt is one user turn)."""
        if self.is_chat:
            return list(self.prompt)
        return [{"role": "user", "content": self.prompt}]


class Response(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="responses")
    position = models.PositiveSmallIntegerField()
    content = models.TextField()
    # Which model wrote it: kept for the client's exports, never shown to experts.
    model = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["item_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="response_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item} #{self.position}"
