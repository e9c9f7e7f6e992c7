"""An expert's judgment of an item, and the one check of what it must satisfy (read-only).

The labelling page's form and the API's serializer only read what was sent into a `Judgment`;
`judgment_errors` says what is wrong with it, field by field, and the submission service asks
again before storing it. Whatever takes a judgment next calls the same function, so every way in
refuses the same judgment with the same message.
"""

from dataclasses import dataclass, field

from annotations.models import (
    ACTIVE_SECONDS_MAX,
    CRITERION_NOTE_MAX_CHARS,
    RATIONALE_MAX_CHARS,
    REASON_MAX_CHARS,
    Annotation,
    too_long,
)
from projects.models import Item, Project, RubricCriterion
from projects.rubrics import current_criteria
from projects.vocabulary import NOT_PREFERRING, Preference

# What the expert clicked, in display terms ("A" is the response shown on the left); the
# submission maps it to the item's own response positions.
SIDES = ("A", "B")  # a choice of a side, which may say by how much
DISPLAY_CHOICES = (*SIDES, *NOT_PREFERRING)


@dataclass(frozen=True)
class ResponseRating:
    position: int  # the item's response, by its position
    scores: dict[str, int | None] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    not_ratable: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Judgment:
    choice: str  # one of DISPLAY_CHOICES; "" when not comparing
    strength: int | None
    rationale: str
    active_seconds: int = 0
    ratings: tuple[ResponseRating, ...] = ()  # for rubric projects: one per response
    rubric_version: int | None = None  # the version the expert was shown
    pasted_chars: int = 0  # characters pasted into the rationales, as the page counted them


def rationale_chars(judgment: Judgment) -> int:
    """The characters of the judgment's rationales as they are stored, each trimmed: its own and
    the criterion rationales of every response rated (one marked not ratable keeps none)."""
    criteria = sum(
        len(text.strip())
        for rating in judgment.ratings
        if not rating.not_ratable
        for text in rating.rationales.values()
    )
    return len(judgment.rationale.strip()) + criteria


def rating_field(position: int, key: str) -> str:
    """The form field (and error key) for one criterion of one response."""
    return f"r{position}-{key}"


def judgment_errors(*, judgment: Judgment, project: Project, item: Item) -> dict[str, str]:
    """What is wrong with `judgment` of `item` under `project`'s settings, one message per field
    (`choice`, `strength`, `rationale`, `active_seconds`, `pasted_chars`, `ratings` and the rating
    fields named by `rating_field`); {} when nothing is."""
    errors: dict[str, str] = {}
    if project.rates:
        errors.update(_rating_errors(judgment, project=project, item=item))
    if project.compares:
        errors.update(_choice_errors(judgment, project=project))
    rationale = judgment.rationale.strip()  # counted as it is stored
    if project.rationale_required and not rationale:
        errors["rationale"] = "This project requires a rationale."
    elif len(rationale) > RATIONALE_MAX_CHARS:
        errors["rationale"] = too_long("The rationale", RATIONALE_MAX_CHARS)
    if not 0 <= judgment.active_seconds <= ACTIVE_SECONDS_MAX:
        errors["active_seconds"] = f"The active time must be 0 to {ACTIVE_SECONDS_MAX:,} seconds."
    # Nothing can be pasted into text that is not there; past that the count is not a count.
    written = rationale_chars(judgment)
    pasted = judgment.pasted_chars
    if isinstance(pasted, bool) or not isinstance(pasted, int) or not 0 <= pasted <= written:
        errors["pasted_chars"] = (
            "The pasted characters must be a whole number from 0 to the length of the "
            f"rationales ({written:,} here)."
        )
    return errors


def _choice_errors(judgment: Judgment, *, project: Project) -> dict[str, str]:
    if judgment.choice not in DISPLAY_CHOICES:
        return {"choice": "Choose A, B, tie or both bad."}
    if judgment.choice == Preference.TIE and not project.allow_tie:
        return {"choice": "This project does not allow ties; choose the better response."}
    if judgment.choice == Preference.BOTH_BAD and not project.allow_both_bad:
        return {"choice": "This project does not allow 'both are bad'; choose the better response."}
    asked = judgment.choice in SIDES and project.asks_strength
    if (asked or judgment.strength is not None) and judgment.strength not in Annotation.Strength.values:
        return {"strength": "Say how much better: slightly, clearly or much."}
    return {}


def _rating_errors(judgment: Judgment, *, project: Project, item: Item) -> dict[str, str]:
    """The ratings' errors under the project's current rubric, which the expert must have seen."""
    criteria = current_criteria(project)
    version = criteria[0].version if criteria else None
    if version is None:
        return {"ratings": "This project has no rubric yet; a manager must define it."}
    if judgment.rubric_version != version:
        return {
            "ratings": f"The rubric changed to version {version} while you worked; "
            "reload the item to rate against it."
        }
    positions = sorted(r.position for r in item.responses.all())
    if sorted(r.position for r in judgment.ratings) != positions:
        return {"ratings": "Rate every response (or mark it as not ratable), once each."}
    errors: dict[str, str] = {}
    for rating in judgment.ratings:
        errors.update(_one_rating_errors(rating, criteria))
    return errors


def _one_rating_errors(rating: ResponseRating, criteria: list[RubricCriterion]) -> dict[str, str]:
    errors: dict[str, str] = {}
    unknown = (set(rating.scores) | set(rating.rationales)) - {c.key for c in criteria}
    if unknown:
        errors[f"r{rating.position}"] = f"Unknown criteria: {', '.join(sorted(unknown))}."
    if rating.not_ratable:
        reason = rating.reason.strip()
        if not reason:
            errors[f"r{rating.position}-reason"] = "Say why this response cannot be rated."
        elif len(reason) > REASON_MAX_CHARS:
            errors[f"r{rating.position}-reason"] = too_long(
                "The reason a response is not ratable", REASON_MAX_CHARS
            )
        return errors
    for criterion in criteria:
        score = rating.scores.get(criterion.key)
        name = rating_field(rating.position, criterion.key)
        if score is None:
            if criterion.required:
                errors[name] = f"Score {criterion.label}."
        elif not isinstance(score, int) or not criterion.scale_min <= score <= criterion.scale_max:
            errors[name] = f"{criterion.label} takes {criterion.scale_min} to {criterion.scale_max}."
        rationale = rating.rationales.get(criterion.key, "").strip()
        if rationale and not criterion.asks_rationale:
            errors[name + "-rationale"] = f"{criterion.label} takes no rationale."
        elif len(rationale) > CRITERION_NOTE_MAX_CHARS:
            errors[name + "-rationale"] = too_long(
                f"The rationale for {criterion.label}", CRITERION_NOTE_MAX_CHARS
            )
    return errors
