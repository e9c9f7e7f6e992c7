from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from annotations.exports import (
    AGGREGATES,
    REGISTRY,
    SPLITS_PATTERN,
    STYLES,
    TIE_HANDLING,
    PairOptions,
    parse_splits,
)
from annotations.models import RATIONALE_MAX_CHARS, REASON_MAX_CHARS, Annotation, Skip, too_long
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
    rationale = forms.CharField(
        required=False,
        max_length=RATIONALE_MAX_CHARS,
        strip=True,
        error_messages={"max_length": too_long("The rationale", RATIONALE_MAX_CHARS)},
    )
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
    reason = forms.ChoiceField(
        choices=Skip.Reason.choices,
        error_messages={"required": "Choose a reason to skip.", "invalid_choice": "Choose a reason to skip."},
    )
    note = forms.CharField(
        required=False,
        max_length=REASON_MAX_CHARS,
        error_messages={"max_length": too_long("The skip note", REASON_MAX_CHARS)},
    )

    def error_notice(self) -> str:
        """Every error of the form, as one line for the page's notice."""
        return " ".join(message for messages in self.errors.values() for message in messages)


class ExportForm(forms.Form):
    """The export page's choices; the pairs options are the command's, with the same rules."""

    format = forms.ChoiceField(
        # Read when the form is built, so that every registered format is offered.
        choices=lambda: [
            *((name, export_format.label) for name, export_format in REGISTRY.items()),
            ("bundle", "Bundle: every format, manifest and card (.zip)"),
        ],
        initial="pairs",
    )
    style = forms.ChoiceField(
        choices=STYLES.items(),
        initial="auto",
        required=False,
    )
    aggregate = forms.ChoiceField(
        choices=AGGREGATES.items(),
        initial="none",
        required=False,
    )
    margin = forms.BooleanField(required=False, label="Add a margin from the strength")
    ties = forms.ChoiceField(
        choices=TIE_HANDLING.items(),
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

    format = forms.ChoiceField(choices=lambda: [(name, name) for name in REGISTRY])
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["format"].error_messages["invalid_choice"] = (
            f"The API streams one format: {', '.join(REGISTRY)}."
        )

    def clean(self) -> dict[str, Any]:
        for name in self.fields:
            if name in self.data and self.data[name] == "":
                self.add_error(name, "Give a value, or leave the parameter out.")
        return super().clean()
