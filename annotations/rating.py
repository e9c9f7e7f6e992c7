"""Rubric ratings: what an expert's scores must satisfy, checked against one rubric version.

The ratings travel inside the annotation service's submission (one envelope per expert and
item), so idempotency, leases and overlap work exactly as for comparisons.
"""

from dataclasses import dataclass, field

from annotations.models import CRITERION_NOTE_MAX_CHARS, REASON_MAX_CHARS, Annotation, Rating, too_long
from projects.models import Item, RubricCriterion


@dataclass(frozen=True)
class ResponseRating:
    position: int  # the item's response, by its position
    scores: dict[str, int | None] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)
    not_ratable: bool = False
    reason: str = ""


def field_name(position: int, key: str) -> str:
    """The form field (and error key) for one criterion of one response."""
    return f"r{position}-{key}"


def validate_ratings(
    *, item: Item, ratings: list[ResponseRating], criteria: list[RubricCriterion]
) -> dict[str, str]:
    """Field errors for `ratings` of `item` under `criteria` (one rubric version); {} when valid."""
    errors: dict[str, str] = {}
    positions = sorted(r.position for r in item.responses.all())
    given = sorted(r.position for r in ratings)
    if given != positions:
        errors["ratings"] = "Rate every response (or mark it as not ratable), once each."
        return errors
    by_key = {c.key: c for c in criteria}
    for rating in ratings:
        unknown = (set(rating.scores) | set(rating.rationales)) - set(by_key)
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
            continue
        for criterion in criteria:
            score = rating.scores.get(criterion.key)
            name = field_name(rating.position, criterion.key)
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


def build_ratings(
    *, annotation: Annotation, item: Item, ratings: list[ResponseRating], version: int
) -> list[Rating]:
    responses = {r.position: r for r in item.responses.all()}
    return [
        Rating(
            annotation=annotation,
            response=responses[rating.position],
            rubric_version=version,
            scores={} if rating.not_ratable else {k: v for k, v in rating.scores.items() if v is not None},
            rationales={}
            if rating.not_ratable
            else {k: v.strip() for k, v in rating.rationales.items() if v.strip()},
            not_ratable=rating.not_ratable,
            not_ratable_reason=rating.reason.strip() if rating.not_ratable else "",
        )
        for rating in ratings
    ]


@dataclass(frozen=True)
class CriterionRow:
    criterion: RubricCriterion
    name: str
    value: str  # the score as submitted, to keep it after an error
    rationale: str
    error: str


@dataclass(frozen=True)
class ResponseBlock:
    label: str
    position: int
    content: str
    rows: list[CriterionRow]
    not_ratable: bool
    reason: str
    error: str


def rating_blocks(
    *, responses: list, labels: list[str], criteria: list[RubricCriterion], data: dict, errors: dict[str, str]
) -> list[ResponseBlock]:
    """What the rating form shows for each response, with what was typed and what was wrong."""
    blocks = []
    for label, response in zip(labels, responses, strict=True):
        rows = [
            CriterionRow(
                criterion=c,
                name=field_name(response.position, c.key),
                value=str(data.get(field_name(response.position, c.key), "")),
                rationale=str(data.get(field_name(response.position, c.key) + "-rationale", "")),
                error=errors.get(field_name(response.position, c.key), "")
                or errors.get(field_name(response.position, c.key) + "-rationale", ""),
            )
            for c in criteria
        ]
        blocks.append(
            ResponseBlock(
                label=label,
                position=response.position,
                content=response.content,
                rows=rows,
                not_ratable=bool(data.get(f"r{response.position}-not_ratable")),
                reason=str(data.get(f"r{response.position}-reason", "")),
                error=errors.get(f"r{response.position}-reason", "")
                or errors.get(f"r{response.position}", ""),
            )
        )
    return blocks


def ratings_from_post(*, data: dict, item: Item, criteria: list[RubricCriterion]) -> list[ResponseRating]:
    """Read the rating form's fields for every response of `item`."""
    ratings = []
    for response in item.responses.all():
        scores: dict[str, int | None] = {}
        rationales: dict[str, str] = {}
        for criterion in criteria:
            name = field_name(response.position, criterion.key)
            raw = str(data.get(name, "")).strip()
            try:
                scores[criterion.key] = int(raw) if raw else None
            except ValueError:
                scores[criterion.key] = -(10**6)  # out of every scale: reported as such
            if data.get(name + "-rationale"):
                rationales[criterion.key] = str(data[name + "-rationale"])
        ratings.append(
            ResponseRating(
                position=response.position,
                scores=scores,
                rationales=rationales,
                not_ratable=bool(data.get(f"r{response.position}-not_ratable")),
                reason=str(data.get(f"r{response.position}-reason", "")),
            )
        )
    return ratings
