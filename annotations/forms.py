from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from annotations.exports import FORMATS, SPLITS_PATTERN, PairOptions, parse_splits
from annotations.models import Annotation, Skip
from annotations.rating import ratings_from_post
from annotations.services import DISPLAY_CHOICES, Judgment
from projects.models import Item, Project
from projects.rubrics import current_criteria


class LabelForm(forms.Form):
    """Parses a labelling submission (a choice, rubric ratings, or both, as the project asks).

    The rules of the project are the service's to enforce; this form only reads the fields and
    puts the service's errors back where the expert will see them.
    """

    choice = forms.ChoiceField(
        choices=[(c, c) for c in DISPLAY_CHOICES],
        error_messages={"required": "Choose A, B, tie or both bad."},
    )
    strength = forms.TypedChoiceField(
        choices=Annotation.Strength.choices, coerce=int, required=False, empty_value=None
    )
    rationale = forms.CharField(required=False, max_length=20_000, strip=True)
    active_seconds = forms.IntegerField(required=False, min_value=0, max_value=86_400)
    rubric_version = forms.IntegerField(required=False)
    idempotency_key = forms.UUIDField()

    def __init__(self, *args: Any, project: Project, item: Item, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project, self.item = project, item
        self.rating_errors: dict[str, str] = {}
        if not project.compares:
            self.fields["choice"].required = False

    def judgment(self) -> Judgment:
        data = self.cleaned_data
        ratings = ()
        if self.project.rates:
            criteria = current_criteria(self.project)
            ratings = tuple(ratings_from_post(data=self.data, item=self.item, criteria=criteria))
        return Judgment(
            choice=data["choice"] or "",
            strength=data["strength"],
            rationale=data["rationale"],
            active_seconds=data["active_seconds"] or 0,
            ratings=ratings,
            rubric_version=data["rubric_version"],
        )

    def add_service_errors(self, error: ValidationError) -> None:
        """Put each of the service's errors on its field, its rating block, or the whole form."""
        for name, messages in error.update_error_dict({}).items():
            if name in self.fields:
                self.add_error(name, messages)
            elif name == "ratings" or (name.startswith("r") and name[1:2].isdigit()):
                self.rating_errors[name] = " ".join(str(m) for m in messages)
            else:
                self.add_error(None, messages)


class SkipForm(forms.Form):
    reason = forms.ChoiceField(choices=Skip.Reason.choices)
    note = forms.CharField(required=False, max_length=2_000)


class ExportForm(forms.Form):
    """The export page's choices; the pairs options are the command's, with the same rules."""

    format = forms.ChoiceField(
        choices=[
            ("pairs", "TRL preference pairs (JSONL)"),
            ("kto", "TRL unpaired preferences, KTO (JSONL)"),
            ("annotations", "Every judgment, skips included (JSONL)"),
            ("ratings", "Rubric ratings (JSONL)"),
            ("ratings_mean", "Rubric ratings, mean per response (JSONL)"),
            ("ties", "Tie judgments (JSONL)"),
            ("bundle", "Bundle: every format, manifest and card (.zip)"),
        ],
        initial="pairs",
    )
    style = forms.ChoiceField(
        choices=[("auto", "Auto"), ("standard", "Plain strings"), ("conversational", "Chat messages")],
        initial="auto",
        required=False,
    )
    aggregate = forms.ChoiceField(
        choices=[("none", "A pair per annotation"), ("majority", "Majority per item")],
        initial="none",
        required=False,
    )
    margin = forms.BooleanField(required=False, label="Add a margin from the strength")
    ties = forms.ChoiceField(
        choices=[("drop", "Leave ties out"), ("separate", "Bundle: ties in ties.jsonl")],
        initial="drop",
        required=False,
    )
    min_annotations = forms.IntegerField(min_value=1, initial=1, required=False)
    min_agreement = forms.FloatField(min_value=0, max_value=1, initial=0, required=False)
    split = forms.CharField(required=False, help_text="e.g. test=0.1,validation=0.05 (the rest is train)")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            data["options"] = PairOptions(
                style=data.get("style") or "auto",
                ties=data.get("ties") or "drop",
                aggregate=data.get("aggregate") or "none",
                margin=bool(data.get("margin")),
                min_annotations=data.get("min_annotations") or 1,
                min_agreement=data.get("min_agreement") or 0.0,
                splits=parse_splits(data.get("split") or ""),
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        return data


class ApiExportForm(ExportForm):
    """The export's query parameters in the API, which streams one JSONL format.

    Stricter than the page's form, whose fields a browser always sends: a parameter given with an
    empty value is refused rather than read as its default, and `margin` is true or false.
    """

    format = forms.ChoiceField(
        choices=[(name, name) for name in FORMATS],
        error_messages={"invalid_choice": f"The API streams one format: {', '.join(FORMATS)}."},
    )
    margin = forms.TypedChoiceField(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        required=False,
        help_text="Add a margin from the strength.",
    )
    ties = None  # the bundle's option; the API streams no bundle
    # The pattern parse_splits reads, on the field, so that the schema can say it.
    split = forms.CharField(
        required=False,
        help_text="e.g. test=0.1,validation=0.05 (the rest is train: the shares must add up to less than 1)",
        validators=[
            RegexValidator(
                SPLITS_PATTERN,
                "Write test and/or validation with a share between 0 and 1, e.g. test=0.1,validation=0.05.",
            )
        ],
    )

    def clean(self) -> dict[str, Any]:
        for name in self.fields:
            if name in self.data and self.data[name] == "":
                self.add_error(name, "Give a value, or leave the parameter out.")
        return super().clean()
