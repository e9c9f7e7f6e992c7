"""Training-ready exports, streamed row by row from the database.

Rows are produced from a chunked iterator (a server-side cursor on PostgreSQL), so memory stays
flat whatever the project's size, and in a fixed order, so that the same data always gives the
same bytes.
"""

import json
from collections.abc import Iterator
from typing import Any

from annotations.models import Annotation, Rating
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item, Project

FORMATS = ("pairs", "ratings")
CHUNK_SIZE = 2000
STRENGTH_NAMES = {1: "slightly", 2: "clearly", 3: "much"}


def _dumps(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _is_conversational(project: Project, **exported: object) -> bool:
    """One style per file: chat messages on every row as soon as any exported prompt is a chat.

    `exported` narrows the items to those the export writes rows for.
    """
    return Item.objects.filter(project=project, is_chat=True, **exported).exists()


def export_pairs(project: Project) -> Iterator[bytes]:
    """TRL preference pairs: one line per annotation that prefers one response over the other."""
    conversational = _is_conversational(project, annotations__preference__in=["a", "b"])
    annotations = (
        Annotation.objects.filter(project=project, preference__in=["a", "b"])
        .select_related("item")
        .prefetch_related("item__responses")
        .order_by("item_id", "id")
        .only(
            "item__external_id",
            "item__prompt",
            "item__is_chat",
            "expert_id",
            "preference",
            "strength",
            "project_id",
            "item_id",
        )
    )
    for annotation in annotations.iterator(chunk_size=CHUNK_SIZE):
        item = annotation.item
        responses = {r.position: r.content for r in item.responses.all()}
        chosen_pos = 0 if annotation.preference == "a" else 1
        chosen, rejected = responses[chosen_pos], responses[1 - chosen_pos]
        if chosen == rejected:  # never teach a model that a text is better than itself
            continue
        annotator = annotator_pseudonym(project_id=project.pk, user_id=annotation.expert_id)
        if conversational:
            prompt: Any = item.messages
            chosen_out: Any = [{"role": "assistant", "content": chosen}]
            rejected_out: Any = [{"role": "assistant", "content": rejected}]
        else:
            prompt, chosen_out, rejected_out = item.prompt, chosen, rejected
        yield _dumps(
            {
                "prompt": prompt,
                "chosen": chosen_out,
                "rejected": rejected_out,
                "id": f"{item.external_id}:{annotator}",
                "item_id": item.external_id,
                "annotators": [annotator],
                "strength": STRENGTH_NAMES[annotation.strength],
            }
        )


def export_ratings(project: Project) -> Iterator[bytes]:
    """One line per (expert, response): the rubric scores, with the same keys on every line of a
    rubric version (null where an optional criterion was left out or the response not ratable)."""
    conversational = _is_conversational(project, annotations__ratings__isnull=False)
    keys_of: dict[int, list[str]] = {}
    for version, key in project.criteria.order_by("version", "position", "id").values_list("version", "key"):
        keys_of.setdefault(version, []).append(key)
    ratings = (
        Rating.objects.filter(annotation__project=project)
        .select_related("annotation__item", "response")
        .order_by("annotation__item_id", "annotation_id", "response__position")
    )
    for rating in ratings.iterator(chunk_size=CHUNK_SIZE):
        item, annotation = rating.annotation.item, rating.annotation
        keys = keys_of.get(rating.rubric_version, sorted(rating.scores))
        yield _dumps(
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


def export_lines(project: Project, fmt: str) -> Iterator[bytes]:
    if fmt == "pairs":
        return export_pairs(project)
    if fmt == "ratings":
        return export_ratings(project)
    raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
