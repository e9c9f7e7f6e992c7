"""Rubric ratings aggregated: the mean of each criterion per (response, rubric version)."""

from collections import Counter
from collections.abc import Iterator
from itertools import groupby

from annotations.exports.base import CHUNK_SIZE, criterion_keys, dumps, is_conversational
from annotations.exports.options import PairOptions
from annotations.exports.registry import ExportFormat, register
from annotations.models import Rating
from annotations.queries import left_out_of_exports
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project


def export_ratings_mean(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """The ratings aggregated: one line per (response, rubric version) with the mean of each
    criterion (null where nobody scored it) and the raw scores behind it."""
    conversational = is_conversational(project, annotations__ratings__isnull=False)
    keys_of = criterion_keys(project)
    left_out = left_out_of_exports(project, include_paused=(options or PairOptions()).include_paused)
    ratings = (
        left_out.apply(Rating.objects.filter(annotation__project=project), path="annotation__")
        .select_related("annotation__item", "response")
        .order_by("response__item_id", "response__position", "rubric_version", "annotation_id")
    )
    grouped = groupby(
        ratings.iterator(chunk_size=CHUNK_SIZE), key=lambda r: (r.response_id, r.rubric_version)
    )
    for (_, version), group in grouped:
        rows = list(group)
        item, response = rows[0].annotation.item, rows[0].response
        keys = keys_of.get(version, sorted({key for r in rows for key in r.scores}))
        raw = {key: [r.scores[key] for r in rows if r.scores.get(key) is not None] for key in keys}
        yield dumps(
            {
                "item_id": item.external_id,
                "response_id": f"{item.external_id}:{response.position}",
                "prompt": item.messages if conversational else item.prompt,
                "response": response.content,
                "rubric_version": version,
                "n_ratings": len(rows),
                "n_not_ratable": sum(r.not_ratable for r in rows),
                "mean": {key: round(sum(v) / len(v), 4) if v else None for key, v in raw.items()},
                "scores": raw,
                "annotators": [
                    annotator_pseudonym(project_id=project.pk, user_id=r.annotation.expert_id) for r in rows
                ],
            }
        )


RATINGS_MEAN = register(
    ExportFormat(
        name="ratings_mean",
        label="Rubric ratings, mean per response (JSONL)",
        lines=export_ratings_mean,
        rubric_only=True,
        columns={
            "item_id": "string",
            "response_id": "string",
            "prompt": "string|list",
            "response": "string",
            "rubric_version": "integer",
            "n_ratings": "integer",
            "n_not_ratable": "integer",
            "mean": "object",
            "scores": "object",
            "annotators": "list",
        },
    )
)
