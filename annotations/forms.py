from django import forms

from annotations.models import Annotation, Skip
from annotations.services import DISPLAY_CHOICES, Judgment


class PairwiseForm(forms.Form):
    """Parses a pairwise submission; the rules of the project are the service's to enforce."""

    choice = forms.ChoiceField(
        choices=[(c, c) for c in DISPLAY_CHOICES],
        error_messages={"required": "Choose A, B, tie or both bad."},
    )
    strength = forms.TypedChoiceField(
        choices=Annotation.Strength.choices, coerce=int, required=False, empty_value=None
    )
    rationale = forms.CharField(required=False, max_length=20_000, strip=True)
    active_seconds = forms.IntegerField(required=False, min_value=0, max_value=86_400)
    idempotency_key = forms.UUIDField()

    def judgment(self) -> Judgment:
        data = self.cleaned_data
        return Judgment(
            choice=data["choice"],
            strength=data["strength"],
            rationale=data["rationale"],
            active_seconds=data["active_seconds"] or 0,
        )


class SkipForm(forms.Form):
    reason = forms.ChoiceField(choices=Skip.Reason.choices)
    note = forms.CharField(required=False, max_length=2_000)


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("pairs", "TRL preference pairs (JSONL)"), ("ratings", "Rubric ratings (JSONL)")],
        initial="pairs",
    )
