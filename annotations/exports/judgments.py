"""Every judgment as it was made, skips included (the `annotations` format)."""

from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.db.models import OuterRef, Subquery

from annotations.exports import base
from annotations.exports.base import CHUNK_SIZE, STRENGTH_NAMES, Pseudonyms, dumps
from annotations.exports.options import PairOptions
from annotations.exports.registry import ExportFormat, export_format, register
from annotations.models import Annotation, Assignment, Skip
from annotations.queries import LEFT_OUT_SQL, LeftOut, left_out_of_exports, left_out_sql, paused_experts
from projects.models import Project

JUDGMENTS = f"""
SELECT a.id, i.external_id::text, a.expert_id, a.preference::text, a.strength, a.rationale,
    s.shown_left, a.active_seconds, a.pasted_chars, a.submitted_at, g.version, i.is_gold
FROM annotations_annotation a
JOIN projects_item i ON i.id = a.item_id
JOIN annotations_assignment s ON s.id = a.assignment_id
LEFT JOIN projects_guideline g ON g.id = a.guideline_id
WHERE a.project_id = %(project)s AND a.preference <> '' AND {LEFT_OUT_SQL}
ORDER BY a.item_id, a.id
"""
SKIPS = f"""
SELECT i.external_id::text, k.expert_id, k.reason::text, k.note, i.is_gold, k.created_at,
    (SELECT s.shown_left FROM annotations_assignment s
     WHERE s.item_id = k.item_id AND s.expert_id = k.expert_id LIMIT 1)
FROM annotations_skip k
JOIN projects_item i ON i.id = k.item_id
WHERE k.project_id = %(project)s AND {left_out_sql("k")}
ORDER BY k.item_id, k.id
"""


def _judgments_by_orm(project: Project, left_out: LeftOut) -> Iterator[tuple]:
    """JUDGMENTS's rows, for databases other than PostgreSQL."""
    return (
        left_out.apply(Annotation.objects.filter(project=project))
        .exclude(preference="")
        .order_by("item_id", "pk")
        .values_list(
            "pk",
            "item__external_id",
            "expert_id",
            "preference",
            "strength",
            "rationale",
            "assignment__shown_left",
            "active_seconds",
            "pasted_chars",
            "submitted_at",
            "guideline__version",
            "item__is_gold",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )


def _skips_by_orm(project: Project, left_out: LeftOut) -> Iterator[tuple]:
    """SKIPS's rows, for databases other than PostgreSQL."""
    shown = Assignment.objects.filter(item=OuterRef("item_id"), expert=OuterRef("expert_id")).values(
        "shown_left"
    )
    return (
        left_out.apply(Skip.objects.filter(project=project))
        .order_by("item_id", "pk")
        .values_list(
            "item__external_id",
            "expert_id",
            "reason",
            "note",
            "item__is_gold",
            "created_at",
            Subquery(shown[:1]),
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )


def export_annotations(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """Every judgment as it was made, skips included: one line each, judgments first, then skips.

    `shown_order` lists the item's response positions as displayed (left first). Rubric-only
    judgments have no outcome of this kind; they are in the `ratings` export. Plain values from
    one streamed query each, like the pairs. The columns other apps add (`ColumnSource`) follow
    the format's own; they are computed first, while the connection is free.
    """
    pseudonyms = Pseudonyms(project)
    options = options or PairOptions()
    left_out = left_out_of_exports(project, include_paused=options.include_paused)
    # Kept only when asked for, and then flagged line by line.
    paused = frozenset(paused_experts(project)) if options.include_paused else frozenset()
    # As registered now, with the columns added since; computed here, before the rows stream.
    added = export_format("annotations").added_values(project)
    params = {"project": project.pk}
    if base.on_postgresql():
        judgments = base.streamed(JUDGMENTS, {**params, **left_out.params})
        skips = base.streamed(SKIPS, {**params, **left_out.params})
    else:
        judgments, skips = _judgments_by_orm(project, left_out), _skips_by_orm(project, left_out)
    for (
        pk,
        item_id,
        expert_id,
        outcome,
        strength,
        rationale,
        shown_left,
        seconds,
        pasted,
        submitted,
        version,
        gold,
    ) in judgments:
        yield _judgment_line(
            item_id,
            pseudonyms[expert_id],
            {
                "outcome": outcome,
                "strength": STRENGTH_NAMES.get(strength),
                "rationale": rationale,
                "shown_order": [shown_left, 1 - shown_left],
                "active_seconds": seconds,
                "pasted_chars": pasted,
                "submitted_at": submitted.isoformat(),
                "guideline_version": version,
            },
            gold,
            expert_id in paused,
            added(pk),
        )
    reasons = {value: str(label) for value, label in Skip.Reason.choices}
    for item_id, expert_id, reason, note, gold, created, shown_left in skips:
        reason = reasons.get(reason, reason)
        yield _judgment_line(
            item_id,
            pseudonyms[expert_id],
            {
                "outcome": "skip",
                "strength": None,
                "rationale": f"{reason}: {note}" if note else reason,
                "shown_order": [shown_left, 1 - shown_left] if shown_left is not None else [],
                "active_seconds": 0,
                "pasted_chars": 0,
                "submitted_at": created.isoformat(),
                "guideline_version": None,
            },
            gold,
            expert_id in paused,
            added(None),
        )


def _judgment_line(
    item_id: str, annotator: str, fields: dict[str, Any], gold: bool, paused: bool, added: dict[str, Any]
) -> bytes:
    # The format's own columns hold no float, and the added ones only rounded numbers (see
    # `ColumnSource`): orjson's bytes are json's.
    return dumps(
        {
            "item_id": item_id,
            "annotator": annotator,
            **fields,
            "gold": gold,
            "expert_paused": paused,
            **added,
        },
        floats_checked=True,
    )


ANNOTATIONS = register(
    ExportFormat(
        name="annotations",
        label="Every judgment, skips included (JSONL)",
        lines=export_annotations,
        columns={
            "item_id": "string",
            "annotator": "string",
            "outcome": "string",
            "strength": "string?",
            "rationale": "string",
            "shown_order": "list",
            "active_seconds": "integer",
            "pasted_chars": "integer",
            "submitted_at": "string",
            "guideline_version": "integer?",
            "gold": "boolean",
            "expert_paused": "boolean",
        },
        added_by_others=True,
    )
)
