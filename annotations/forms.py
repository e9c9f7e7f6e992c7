from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
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
from annotations.judging import Judgment, ResponseRating, judgment_errors, rating_field
from annotations.models import REASON_MAX_CHARS, Skip, too_long
from projects.models import Item, Project
from projects.rubrics import current_criteria


class LabelForm(forms.Form):
    """Reads a labelling submission (a choice, rubric ratings, or both, as the project asks) into
    a `Judgment` (`cleaned_data["judgment"]`).

    The fields only read what was sent; what the judgment must satisfy is `judgment_errors`'s to
    say, and this form puts its errors (and the service's) where the expert will see them.
    """

    choice = forms.CharField(required=False)
    strength = forms.IntegerField(required=False)
    rationale = forms.CharField(required=False, strip=True)
    active_seconds = forms.IntegerField(required=False)
    pasted_chars = forms.IntegerField(
        required=False,
        error_messages={"invalid": "The pasted characters must be a whole number."},
    )
    rubric_version = forms.IntegerField(required=False)
    idempotency_key = forms.UUIDField()

    # The fields the page shows an error beside; the others' errors head the form.
    SHOWN = frozenset({"choice", "strength", "rationale"})

    def __init__(self, *args: Any, project: Project, item: Item, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project, self.item = project, item
        self.rating_errors: dict[str, str] = {}

    def is_valid(self) -> bool:
        return super().is_valid() and not self.rating_errors

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:  # a field could not be read: there is no judgment to check yet
            # A hidden field's error (the page's own figures, sent back crafted) heads the form.
            unread = [name for name in self.errors if name not in self.SHOWN and name != NON_FIELD_ERRORS]
            self._place({name: list(self.errors.pop(name)) for name in unread})
            return data
        judgment = Judgment(
            choice=data["choice"],
            strength=data["strength"],
            rationale=data["rationale"],
            active_seconds=data["active_seconds"] or 0,
            ratings=self._ratings() if self.project.rates else (),
            rubric_version=data["rubric_version"],
            pasted_chars=data["pasted_chars"] or 0,
        )
        errors = judgment_errors(judgment=judgment, project=self.project, item=self.item)
        self._place({name: [message] for name, message in errors.items()})
        data["judgment"] = judgment
        return data

    def _ratings(self) -> tuple[ResponseRating, ...]:
        """The rating fields of every response of the item, as sent."""
        criteria = current_criteria(self.project)
        ratings = []
        for response in self.item.responses.all():
            scores: dict[str, int | None] = {}
            rationales: dict[str, str] = {}
            for criterion in criteria:
                name = rating_field(response.position, criterion.key)
                raw = str(self.data.get(name, "")).strip()
                try:
                    scores[criterion.key] = int(raw) if raw else None
                except ValueError:
                    scores[criterion.key] = -(10**6)  # out of every scale: reported as such
                if self.data.get(name + "-rationale"):
                    rationales[criterion.key] = str(self.data[name + "-rationale"])
            ratings.append(
                ResponseRating(
                    position=response.position,
                    scores=scores,
                    rationales=rationales,
                    not_ratable=bool(self.data.get(f"r{response.position}-not_ratable")),
                    reason=str(self.data.get(f"r{response.position}-reason", "")),
                )
            )
        return tuple(ratings)

    def add_service_errors(self, error: ValidationError) -> None:
        """Put the submission service's errors where the expert will see them."""
        self._place(error.update_error_dict({}))

    def _place(self, errors: dict[str, list]) -> None:
        """Each error on its field, its rating block, or the whole form."""
        for name, messages in errors.items():
            if name in self.SHOWN:
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
        # Read when the form is built: apps above this one register aggregates when ready.
        choices=lambda: [(name, aggregate.label) for name, aggregate in AGGREGATES.items()],
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
    include_paused = forms.BooleanField(
        required=False, label="Keep the labels of experts paused by the quality controls (flagged)"
    )

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
                include_paused=bool(data.get("include_paused")),
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
    include_paused = forms.TypedChoiceField(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        required=False,
        help_text="Keep the labels of experts paused by the quality controls (flagged in `annotations`).",
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
        unknown = sorted(set(self.data) - set(self.fields))
        if unknown:
            # A misspelt option (`aggregrate=majority`) would otherwise be ignored without a word.
            self.add_error(None, f"Unknown parameter(s): {', '.join(map(repr, unknown))}.")
        return super().clean()
