import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from projects.models import Guideline, Item, Project, Response
from projects.vocabulary import NOT_PREFERRING, PREFERRING, Preference, Strength

# The longest text an expert may write in each free-text field. The services enforce them (a
# judgment's through `annotations.judging.judgment_errors`), so the page and the API refuse the
# same text with the same message (`too_long`); the page reads them for its hints.
RATIONALE_MAX_CHARS = 20_000  # an annotation's rationale
CRITERION_NOTE_MAX_CHARS = 5_000  # the rationale given for one rubric criterion of one response
REASON_MAX_CHARS = 2_000  # a skip's note, and why a response cannot be rated
ACTIVE_SECONDS_MAX = 86_400  # the active time a judgment may report: a day


def too_long(what: str, limit: int) -> str:
    """The error for `what` (e.g. "The rationale") past its `limit`."""
    return f"{what} can be at most {limit:,} characters long."


# The vocabularies live beside their models rather than inside them, so that each model's check
# constraints can name their values (a Meta cannot see its model's class body).
class AssignmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Expired"


class Assignment(models.Model):
    """One expert holding one item under a lease.

    There is at most one row per (item, expert): when a lease lapses and the same expert is
    served the same item again, the row is renewed rather than duplicated.
    """

    Status = AssignmentStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Position (0 or 1) of the item's response displayed on the left, shown as "A".
    shown_left = models.PositiveSmallIntegerField(default=0)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "expert"], name="assignment_item_expert_unique"),
            # One open lease per expert per project: a second tab resumes, never opens another.
            models.UniqueConstraint(
                fields=["project", "expert"],
                condition=Q(status=AssignmentStatus.ACTIVE),
                name="assignment_one_active_per_expert",
            ),
            models.CheckConstraint(condition=Q(shown_left__in=[0, 1]), name="assignment_shown_left_valid"),
            models.CheckConstraint(
                condition=Q(status__in=AssignmentStatus.values),
                name="assignment_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["item", "status", "expires_at"], name="assignment_item_live")]

    def __str__(self) -> str:
        return f"{self.item} → {self.expert} ({self.status})"

    @property
    def display_order(self) -> list[int]:
        """Response positions in the order shown: [left, right]."""
        return [self.shown_left, 1 - self.shown_left]


class Annotation(models.Model):
    """An expert's submitted judgment on an item.

    `preference` is stored in the item's own terms ("a" is the item's first response), whatever
    side it was displayed on; the assignment records the display order.
    """

    Preference = Preference
    Strength = Strength

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="annotations")
    # Indexed with the project and item below: serving reads an expert's labels in one project.
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations", db_index=False
    )
    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="annotation")
    # Empty for rubric-only projects, whose judgment is the ratings below.
    preference = models.CharField(max_length=16, choices=Preference.choices, blank=True)
    strength = models.PositiveSmallIntegerField(choices=Strength.choices, null=True, blank=True)
    rationale = models.TextField(blank=True)
    active_seconds = models.PositiveIntegerField(default=0)
    # How many characters the expert pasted into the judgment's rationales (its own and its
    # criteria's), as the labelling page counted them: reported by the client like the active
    # time, and bounded by `judgment_errors` to the rationales' length. 0 for a judgment whose
    # client does not count (and in the database, for rows written without it).
    pasted_chars = models.PositiveIntegerField(default=0, db_default=0)
    guideline = models.ForeignKey(Guideline, on_delete=models.PROTECT, null=True, blank=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "expert"], name="annotation_item_expert_unique"),
            models.CheckConstraint(
                condition=Q(preference__in=["", *Preference.values]),
                name="annotation_preference_valid",
            ),
            # A strength says how much better the chosen response is: only for a real preference
            # (and only where the project asks for one).
            models.CheckConstraint(
                condition=(
                    Q(preference__in=list(PREFERRING))
                    & (Q(strength__in=Strength.values) | Q(strength__isnull=True))
                )
                | (Q(preference__in=["", *NOT_PREFERRING]) & Q(strength__isnull=True)),
                name="annotation_strength_matches_preference",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "item"], name="annotation_project_item"),
            models.Index(fields=["expert", "project", "item"], name="annotation_expert_project"),
        ]

    def __str__(self) -> str:
        return f"{self.item} by {self.expert}: {self.preference}"


class Rating(models.Model):
    """An expert's scores for one response, under one version of the project's rubric."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="ratings")
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="ratings")
    rubric_version = models.PositiveIntegerField()
    # {criterion key: score}; only criteria of `rubric_version`, each within its scale.
    scores = models.JSONField(default=dict, blank=True)
    # {criterion key: text}, for criteria that ask for a rationale.
    rationales = models.JSONField(default=dict, blank=True)
    not_ratable = models.BooleanField(default=False)
    not_ratable_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation", "response"], name="rating_one_per_response"),
            # A response is either rated or flagged as not ratable, with a reason.
            models.CheckConstraint(
                condition=Q(not_ratable=False) | ~Q(not_ratable_reason=""),
                name="rating_not_ratable_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"rating of {self.response} in {self.annotation}"


class Skip(models.Model):
    """An expert declined an item. It is never served to them again and frees the slot."""

    class Reason(models.TextChoices):
        EXPERTISE = "expertise", "Outside my expertise"
        CONTENT = "content", "Content problem (broken, unreadable, harmful)"
        UNSURE = "unsure", "Cannot judge with confidence"
        OTHER = "other", "Other"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="skips")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    # Indexed with the project and item below: serving reads an expert's skips in one project.
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skips", db_index=False
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "expert"], name="skip_item_expert_unique"),
        ]
        indexes = [models.Index(fields=["expert", "project", "item"], name="skip_expert_project")]

    def __str__(self) -> str:
        return f"{self.item} skipped by {self.expert}"


class Draft(models.Model):
    """What an expert has entered on their assigned item so far, saved as they work.

    `fields` holds the form as sent ({field name: [values]}), so a reload, a crash or a new login
    puts every answer back where it was. It goes when the item is submitted or skipped.
    """

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="draft")
    fields = models.JSONField(default=dict)
    saved_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"draft of {self.assignment}"
