"""TRL unpaired preferences (KTO): each response of a judged item, desirable or not."""

from collections import Counter
from collections.abc import Iterator

from annotations.exports.base import CHUNK_SIZE, annotations_with_items, dumps, is_conversational
from annotations.exports.options import PairOptions
from annotations.exports.registry import ExportFormat, register
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project
from projects.vocabulary import PREFERRING, Preference

# What KTO learns from: a preference (one response desirable, the other not) or "both are bad".
DESIRABILITY = (*PREFERRING, Preference.BOTH_BAD.value)


def export_kto(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """TRL unpaired preferences: the preferred response is desirable, the other undesirable;
    "both are bad" makes both undesirable. Ties say nothing either way and are left out."""
    conversational = is_conversational(project, annotations__preference__in=DESIRABILITY)
    for annotation in annotations_with_items(project, DESIRABILITY, options or PairOptions()).iterator(
        chunk_size=CHUNK_SIZE
    ):
        item = annotation.item
        annotator = annotator_pseudonym(project_id=project.pk, user_id=annotation.expert_id)
        prompt = item.messages if conversational else item.prompt
        for response in item.responses.all():
            label = annotation.preference == ("a" if response.position == 0 else "b")
            completion = (
                [{"role": "assistant", "content": response.content}] if conversational else response.content
            )
            yield dumps(
                {
                    "prompt": prompt,
                    "completion": completion,
                    "label": label,
                    "id": f"{item.external_id}:{annotator}:{response.position}",
                    "item_id": item.external_id,
                    "annotator": annotator,
                }
            )


KTO = register(
    ExportFormat(
        name="kto",
        label="TRL unpaired preferences, KTO (JSONL)",
        lines=export_kto,
        columns={
            "prompt": "string|list",
            "completion": "string|list",
            "label": "boolean",
            "id": "string",
            "item_id": "string",
            "annotator": "string",
        },
    )
)
