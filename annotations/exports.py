"""Training-ready exports, streamed row by row from the database.

Rows are produced from a chunked iterator (a server-side cursor on PostgreSQL), so memory stays
flat whatever the project's size, and in a fixed order, so that the same data always gives the
same bytes.
"""

import json
from collections.abc import Iterator
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from annotations.models import Annotation, Assignment, Rating, Skip
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item, Project

FORMATS = ("pairs", "kto", "annotations", "ratings")
CHUNK_SIZE = 2000
STRENGTH_NAMES = {1: "slightly", 2: "clearly", 3: "much"}


def _dumps(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _is_conversational(project: Project, **exported: object) -> bool:
    """One style per file: chat messages on every row as soon as any exported prompt is a chat.

    `exported` narrows the items to those the export writes rows for.
    """
    return Item.objects.filter(project=project, is_chat=True, **exported).exists()


def _pair_rows(project: Project, preferences: list[str]) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(project=project, preference__in=preferences)
        .select_related("item")
        .prefetch_related("item__responses")
        .order_by("item_id", "id")
    )


def export_pairs(project: Project) -> Iterator[bytes]:
    """TRL preference pairs: one line per annotation that prefers one response over the other."""
    conversational = _is_conversational(project, annotations__preference__in=["a", "b"])
    annotations = _pair_rows(project, ["a", "b"])
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


def export_kto(project: Project) -> Iterator[bytes]:
    """TRL unpaired preferences: the preferred response is desirable, the other undesirable;
    "both are bad" makes both undesirable. Ties say nothing either way and are left out."""
    conversational = _is_conversational(project, annotations__preference__in=["a", "b", "both_bad"])
    for annotation in _pair_rows(project, ["a", "b", "both_bad"]).iterator(chunk_size=CHUNK_SIZE):
        item = annotation.item
        annotator = annotator_pseudonym(project_id=project.pk, user_id=annotation.expert_id)
        prompt = item.messages if conversational else item.prompt
        for response in item.responses.all():
            label = annotation.preference == ("a" if response.position == 0 else "b")
            completion = (
                [{"role": "assistant", "content": response.content}] if conversational else response.content
            )
            yield _dumps(
                {
                    "prompt": prompt,
                    "completion": completion,
                    "label": label,
                    "id": f"{item.external_id}:{annotator}:{response.position}",
                    "item_id": item.external_id,
                    "annotator": annotator,
                }
            )


def export_annotations(project: Project) -> Iterator[bytes]:
    """Every judgment as it was made, skips included: one line each, judgments first, then skips.

    `shown_order` lists the item's response positions as displayed (left first). Rubric-only
    judgments have no outcome of this kind; they are in the `ratings` export.
    """
    annotations = (
        Annotation.objects.filter(project=project)
        .exclude(preference="")
        .select_related("item", "assignment", "guideline")
        .order_by("item_id", "id")
    )
    for annotation in annotations.iterator(chunk_size=CHUNK_SIZE):
        yield _dumps(
            _judgment_row(
                project,
                annotation.item,
                annotation.expert_id,
                {
                    "outcome": annotation.preference,
                    "strength": STRENGTH_NAMES.get(annotation.strength),
                    "rationale": annotation.rationale,
                    "shown_order": annotation.assignment.display_order,
                    "active_seconds": annotation.active_seconds,
                    "submitted_at": annotation.submitted_at.isoformat(),
                    "guideline_version": annotation.guideline.version if annotation.guideline else None,
                },
            )
        )
    shown_left = Assignment.objects.filter(item=OuterRef("item"), expert=OuterRef("expert")).values(
        "shown_left"
    )
    skips = (
        Skip.objects.filter(project=project)
        .select_related("item")
        .annotate(shown_left=Subquery(shown_left[:1]))
        .order_by("item_id", "id")
    )
    for skip in skips.iterator(chunk_size=CHUNK_SIZE):
        yield _dumps(
            _judgment_row(
                project,
                skip.item,
                skip.expert_id,
                {
                    "outcome": "skip",
                    "strength": None,
                    "rationale": f"{skip.get_reason_display()}: {skip.note}"
                    if skip.note
                    else skip.get_reason_display(),
                    "shown_order": [skip.shown_left, 1 - skip.shown_left]
                    if skip.shown_left is not None
                    else [],
                    "active_seconds": 0,
                    "submitted_at": skip.created_at.isoformat(),
                    "guideline_version": None,
                },
            )
        )


def _judgment_row(project: Project, item: Item, expert_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": item.external_id,
        "annotator": annotator_pseudonym(project_id=project.pk, user_id=expert_id),
        **fields,
        "gold": item.is_gold,
    }


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
    if fmt == "kto":
        return export_kto(project)
    if fmt == "annotations":
        return export_annotations(project)
    raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
