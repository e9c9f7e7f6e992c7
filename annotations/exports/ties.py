"""Tie judgments, which make no pair: one line each, for those who model ties separately."""

from collections import Counter
from collections.abc import Iterator

from annotations.exports.base import CHUNK_SIZE, annotations_with_items, dumps, is_conversational
from annotations.exports.options import PairOptions
from annotations.exports.registry import ExportFormat, register
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project


def export_ties(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """Tie judgments, which make no pair: one line each, for those who model ties separately."""
    conversational = is_conversational(project, annotations__preference="tie")
    for annotation in annotations_with_items(project, ["tie"], options or PairOptions()).iterator(
        chunk_size=CHUNK_SIZE
    ):
        item = annotation.item
        texts = [r.content for r in item.responses.all()]
        yield dumps(
            {
                "prompt": item.messages if conversational else item.prompt,
                "responses": [[{"role": "assistant", "content": t}] for t in texts]
                if conversational
                else texts,
                "item_id": item.external_id,
                "annotator": annotator_pseudonym(project_id=project.pk, user_id=annotation.expert_id),
            }
        )


TIES = register(
    ExportFormat(
        name="ties",
        label="Tie judgments (JSONL)",
        lines=export_ties,
        # In a bundle only when asked for: the pairs leave ties out by default.
        bundled=lambda options: options.ties == "separate",
        columns={"prompt": "string|list", "responses": "list", "item_id": "string", "annotator": "string"},
    )
)
