from django.conf import settings
from django.db import models
from django.db.models import F, Q

from projects.models import Project


class QualificationAttempt(models.Model):
    """One expert's completed qualification on one project: what they answered and the outcome.

    Written once when the attempt's last answer is graded (`quality.services`), never changed:
    the membership carries the standing, this the record a manager reads."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="qualification_attempts")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(help_text="When the first answer of the attempt was submitted.")
    finished_at = models.DateTimeField()
    answered = models.PositiveSmallIntegerField()
    correct = models.PositiveSmallIntegerField()
    # The project's settings when the attempt was graded: a later change does not rewrite history.
    required = models.PositiveSmallIntegerField(help_text="The number of items the project asked for.")
    pass_percent = models.PositiveSmallIntegerField()
    passed = models.BooleanField()

    class Meta:
        ordering = ["project_id", "expert_id", "finished_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(correct__lte=F("answered")), name="attempt_correct_within_answered"
            ),
            models.CheckConstraint(condition=Q(answered__gte=1), name="attempt_answered_something"),
            models.CheckConstraint(condition=Q(pass_percent__lte=100), name="attempt_pass_percent_valid"),
        ]
        indexes = [models.Index(fields=["project", "expert", "-finished_at"], name="attempt_latest")]

    def __str__(self) -> str:
        outcome = "passed" if self.passed else "failed"
        return f"{self.expert} {outcome} {self.project} ({self.correct}/{self.answered})"

    @property
    def percent(self) -> float:
        return 100 * self.correct / self.answered
