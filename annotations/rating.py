"""What the rating form shows for each response: its criteria, what was typed, what was wrong."""

from dataclasses import dataclass

from annotations.judging import rating_field
from projects.models import RubricCriterion


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
                name=rating_field(response.position, c.key),
                value=str(data.get(rating_field(response.position, c.key), "")),
                rationale=str(data.get(rating_field(response.position, c.key) + "-rationale", "")),
                error=errors.get(rating_field(response.position, c.key), "")
                or errors.get(rating_field(response.position, c.key) + "-rationale", ""),
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
