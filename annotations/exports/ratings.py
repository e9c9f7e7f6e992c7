"""Rubric ratings: one line per (expert, response)."""

from collections import Counter
from collections.abc import Iterator

from annotations.exports.base import CHUNK_SIZE, criterion_keys, dumps, is_conversational
from annotations.exports.options import PairOptions
from annotations.exports.registry import ExportFormat, register
from annotations.models import Rating
from annotations.queries import left_out_of_exports
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project


def export_ratings(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """One line per (expert, response): the rubric scores, with the same keys on every line of a
    rubric version (null where an optional criterion was left out or the response not ratable)."""
    conversational = is_conversational(project, annotations__ratings__isnull=False)
    keys_of = criterion_keys(project)
    left_out = left_out_of_exports(project, include_paused=(options or PairOptions()).include_paused)
    ratings = (
        left_out.apply(Rating.objects.filter(annotation__project=project), path="annotation__")
        .select_related("annotation__item", "response")
        .order_by("annotation__item_id", "annotation_id", "response__position")
    )
    for rating in ratings.iterator(chunk_size=CHUNK_SIZE):
        item, annotation = rating.annotation.item, rating.annotation
        keys = keys_of.get(rating.rubric_version, sorted(rating.scores))
        yield dumps(
            {
                "item_id": item.external_id,
                "response_id": f"{item.external_id}:{rating.response.position}",
                "prompt": item.messages if conversational else item.prompt,
                "response": rating.response.content,
                "annotator": annotator_pseudonym(project_id=project.pk, user_id=annotation.expert_id),
                "rubric_version": rating.rubric_version,
                "scores": {key: rating.scores.get(key) for key in keys},
                "rationales": {key: rating.rationales.get(key, "") for key in keys},
                "not_ratable": rating.not_ratable,
            }
        )


RATINGS = register(
    ExportFormat(
        name="ratings",
        label="Rubric ratings (JSONL)",
        lines=export_ratings,
        rubric_only=True,
        columns={
            "item_id": "string",
            "response_id": "string",
            "prompt": "string|list",
            "response": "string",
            "annotator": "string",
            "rubric_version": "integer",
            "scores": "object",
            "rationales": "object",
            "not_ratable": "boolean",
        },
    )
)
