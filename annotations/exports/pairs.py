"""TRL preference pairs with an explicit prompt: one per preferring judgment, or one per item
with its majority or a consensus computed first; metadata columns of one type each."""

from collections import Counter
from collections.abc import Iterator, Mapping
from itertools import batched, groupby
from typing import Any, NamedTuple

from annotations.exports import base
from annotations.exports.base import (
    CHUNK_SIZE,
    COMPARISON_VALUES,
    STREAM_CHUNK,
    STRENGTH_NAMES,
    ItemRow,
    Pseudonyms,
    dumps,
    is_conversational,
)
from annotations.exports.options import AGGREGATES, PairOptions, export_id_for, prompt_id, split_of
from annotations.exports.registry import ExportFormat, register
from annotations.models import Annotation
from annotations.queries import LEFT_OUT_SQL, LeftOut, left_out_of_exports
from labelhub.fastjson import has_float
from labelhub.fastjson import loads as json_loads
from projects.models import Item, Project, Response
from projects.vocabulary import PREFERRING

# The margin TRL's reward trainer adds to the score gap: how much better the chosen response is.
STRENGTH_MARGINS = {1: 1.0, 2: 2.0, 3: 3.0}
COMPARISONS = "(" + ", ".join(f"'{value}'" for value in COMPARISON_VALUES) + ")"


class JudgmentRow(NamedTuple):
    preference: str
    strength: int | None
    expert_id: int
    guideline_version: int | None
    shown_left: int


class ResponseRow(NamedTuple):
    position: int
    content: str
    model: str


# Every judged item with its first two responses and its comparison judgments as arrays in
# submission order, in item order. PostgreSQL groups the judgments in one pass; the item and its
# responses are then looked up item by item (LATERAL), which keeps that order, so rows stream from
# the first one. (Joined as plain tables, the planner may hash them and sort every row on disk
# before sending the first.)
JUDGED_ITEMS = f"""
SELECT i.external_id::text, i.prompt::text, i.is_chat,
    r0.content, r0.model::text, r1.content, r1.model::text,
    j.preferences, j.strengths, j.experts, j.versions, j.shown_left
FROM (
    SELECT a.item_id,
        array_agg(a.preference::text ORDER BY a.id) AS preferences,
        array_agg(a.strength::int2 ORDER BY a.id) AS strengths,
        array_agg(a.expert_id::int8 ORDER BY a.id) AS experts,
        array_agg(g.version::int4 ORDER BY a.id) AS versions,
        array_agg(s.shown_left::int2 ORDER BY a.id) AS shown_left
    FROM annotations_annotation a
    JOIN annotations_assignment s ON s.id = a.assignment_id
    LEFT JOIN projects_guideline g ON g.id = a.guideline_id
    WHERE a.project_id = %(project)s AND a.preference IN {COMPARISONS} AND {LEFT_OUT_SQL}
    GROUP BY a.item_id
    ORDER BY a.item_id
) j
CROSS JOIN LATERAL (
    SELECT external_id, prompt, is_chat FROM projects_item WHERE id = j.item_id AND project_id = %(project)s
) i
LEFT JOIN LATERAL (
    SELECT content, model FROM projects_response WHERE item_id = j.item_id AND position = 0
) r0 ON true
LEFT JOIN LATERAL (
    SELECT content, model FROM projects_response WHERE item_id = j.item_id AND position = 1
) r1 ON true
ORDER BY j.item_id
"""


def _judged_items_by_orm(project: Project, left_out: LeftOut) -> Iterator[tuple]:
    """JUDGED_ITEMS's rows, for databases other than PostgreSQL: the judgments in item order,
    and the items and responses they need a chunk of items at a time."""
    judgments = (
        left_out.apply(Annotation.objects.filter(project=project, preference__in=COMPARISON_VALUES))
        .order_by("item_id", "pk")
        .values_list(
            "item_id", "preference", "strength", "expert_id", "guideline__version", "assignment__shown_left"
        )
    )
    grouped = (
        (item_id, [row[1:] for row in rows])
        for item_id, rows in groupby(judgments.iterator(chunk_size=CHUNK_SIZE), key=lambda row: row[0])
    )
    for chunk in batched(grouped, STREAM_CHUNK):
        ids = [item_id for item_id, _ in chunk]
        items = Item.objects.only("external_id", "prompt", "is_chat").in_bulk(ids)
        texts = {
            (item_id, position): (content, model)
            for item_id, position, content, model in Response.objects.filter(
                item_id__in=ids, position__in=(0, 1)
            ).values_list("item_id", "position", "content", "model")
        }
        for item_id, rows in chunk:
            item = items[item_id]
            content_0, model_0 = texts.get((item_id, 0), (None, None))
            content_1, model_1 = texts.get((item_id, 1), (None, None))
            columns = list(zip(*rows, strict=True))
            yield (
                item.external_id,
                item.prompt,
                item.is_chat,
                content_0,
                model_0,
                content_1,
                model_1,
                *columns,
            )


def _item_judgments(
    project: Project, left_out: LeftOut
) -> Iterator[tuple[ItemRow, list[JudgmentRow], dict[int, ResponseRow]]]:
    """Each judged item with its comparison judgments and its responses, in item order.

    Plain values, not model instances: building models (and sending their signals) took most of
    an export's time.
    """
    postgresql = base.on_postgresql()
    if postgresql:
        rows = base.streamed(JUDGED_ITEMS, {"project": project.pk, **left_out.params})
    else:
        rows = _judged_items_by_orm(project, left_out)
    for external_id, prompt, is_chat, content_0, model_0, content_1, model_1, *judged in rows:
        responses = {}
        if content_0 is not None:
            responses[0] = ResponseRow(0, content_0, model_0)
        if content_1 is not None:
            responses[1] = ResponseRow(1, content_1, model_1)
        judgments = list(map(JudgmentRow, *judged))
        prompt = json_loads(prompt) if postgresql else prompt  # PostgreSQL sends JSON text
        yield ItemRow(external_id, prompt, is_chat), judgments, responses


def export_pairs(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """TRL preference pairs (explicit prompt), with metadata columns of one type each.

    Never writes a pair whose chosen text equals its rejected text. `tally`, when given, counts
    what was kept and what was dropped and why (for a bundle's manifest).
    """
    options = options or PairOptions()
    has_chat = is_conversational(project, annotations__preference__in=PREFERRING)
    if options.style == "standard" and has_chat:
        # A chat has no faithful plain-text form without a model's chat template.
        raise ValueError(
            "this project has chat prompts: the standard (plain text) style cannot hold them; "
            "use --style conversational or auto"
        )
    conversational = has_chat if options.style == "auto" else options.style == "conversational"
    consensus = AGGREGATES[options.aggregate].consensus
    if consensus is not None and not project.compares:
        raise ValueError(
            f"aggregate {options.aggregate} weighs the experts' choices between responses, and this "
            "project only rates them on its rubric: use the ratings exports"
        )
    left_out = left_out_of_exports(project, include_paused=options.include_paused)
    # Computed now, while the connection is free: the rows then stream on it.
    decided = consensus(project, left_out) if consensus is not None else None
    return _pair_lines(
        project,
        options,
        tally if tally is not None else Counter(),
        conversational=conversational,
        left_out=left_out,
        decided=decided,
    )


def _pair_lines(
    project: Project,
    options: PairOptions,
    tally: Counter,
    *,
    conversational: bool,
    left_out: LeftOut,
    decided: Mapping[str, tuple[str, float]] | None,
) -> Iterator[bytes]:
    """`decided`: each item's consensus (choice, confidence) when the aggregate computes one."""
    export_id = export_id_for(project, options)
    pseudonyms = Pseudonyms(project)
    for item, judgments, responses in _item_judgments(project, left_out):
        counts = Counter([a.preference for a in judgments])
        preferring = sum(counts[p] for p in PREFERRING)
        tally["dropped: tie or both bad"] += len(judgments) - preferring
        if len(judgments) < options.min_annotations:
            tally["dropped: too few judgments"] += preferring
            continue
        confidence = None
        if options.aggregate == "majority":
            (top, votes), *rest = [*counts.most_common(), ("", 0)]
            if top not in PREFERRING or votes == rest[0][1]:
                tally["dropped: no majority"] += preferring
                continue
            tally["dropped: outvoted"] += preferring - votes
            groups = [[a for a in judgments if a.preference == top]]
        elif decided is not None:
            top, confidence = decided.get(item.external_id, ("", 0.0))
            if top not in PREFERRING:
                tally["dropped: no consensus for a or b"] += preferring
                continue
            if not counts[top]:  # a gold answer (or the experts' records) against every judgment
                tally["dropped: no judgment for the consensus"] += preferring
                continue
            tally["dropped: outvoted"] += preferring - counts[top]
            groups = [[a for a in judgments if a.preference == top]]
        else:
            groups = [[a] for a in judgments if a.preference in PREFERRING]
        key = prompt_id(item.prompt)
        for group in groups:
            agreement = counts[group[0].preference] / len(judgments)
            if agreement < options.min_agreement:
                tally["dropped: below agreement"] += len(group)
                continue
            chosen = responses[0 if group[0].preference == "a" else 1]
            rejected = responses[1 - chosen.position]
            if chosen.content == rejected.content:  # never teach a model that a text beats itself
                tally["dropped: chosen equals rejected"] += len(group)
                continue
            tally["kept"] += 1
            tally["judgments kept"] += len(group)
            tally["chosen shown on the left"] += sum(a.shown_left == chosen.position for a in group)
            tally["agreement total"] += agreement
            yield dumps(
                _pair_row(
                    pseudonyms,
                    item,
                    group,
                    chosen,
                    rejected,
                    conversational,
                    options,
                    {
                        "prompt_id": key,
                        "n_annotations": len(judgments),
                        "agreement": round(agreement, 4),
                        "split": split_of(key, options.splits),
                        "export_id": export_id,
                        **({"confidence": round(float(confidence), 4)} if confidence is not None else {}),
                    },
                ),
                # Its only floats are the rounded agreement, margin and confidence, unless the
                # prompt has some.
                floats_checked=not has_float(item.prompt),
            )


def _pair_row(
    pseudonyms: Pseudonyms,
    item: ItemRow,
    group: list[JudgmentRow],
    chosen: ResponseRow,
    rejected: ResponseRow,
    conversational: bool,
    options: PairOptions,
    stats: dict[str, Any],
) -> dict[str, Any]:
    annotators = [pseudonyms[a.expert_id] for a in group]
    strengths = sorted(a.strength for a in group if a.strength)
    strength = strengths[len(strengths) // 2] if strengths else None  # the median judgment
    versions = [a.guideline_version for a in group if a.guideline_version is not None]
    if conversational:
        prompt: Any = item.messages
        chosen_out: Any = [{"role": "assistant", "content": chosen.content}]
        rejected_out: Any = [{"role": "assistant", "content": rejected.content}]
    else:
        prompt, chosen_out, rejected_out = item.prompt, chosen.content, rejected.content
    row = {
        "prompt": prompt,
        "chosen": chosen_out,
        "rejected": rejected_out,
        "id": f"{item.external_id}:{_id_suffix(options, annotators)}",
        "item_id": item.external_id,
        "prompt_id": stats["prompt_id"],
        "chosen_model": chosen.model,
        "rejected_model": rejected.model,
        "annotators": annotators,
        "n_annotations": stats["n_annotations"],
        "agreement": stats["agreement"],
        "strength": STRENGTH_NAMES.get(strength, ""),
        "split": stats["split"],
        "export_id": stats["export_id"],
        "guideline_version": max(versions) if versions else None,
    }
    if options.margin:
        margins = [STRENGTH_MARGINS.get(a.strength, 0.0) for a in group]
        row["margin"] = round(sum(margins) / len(margins), 4)
    if "confidence" in stats:
        row["confidence"] = stats["confidence"]
    return row


def _id_suffix(options: PairOptions, annotators: list[str]) -> str:
    """What makes a row's id unique within its item: its annotator, or the aggregate that made it."""
    if AGGREGATES[options.aggregate].consensus is not None:
        return options.aggregate
    return annotators[0] if len(annotators) == 1 else "majority"


PAIRS = register(
    ExportFormat(
        name="pairs",
        label="TRL preference pairs (JSONL)",
        lines=export_pairs,
        columns={
            "prompt": "string|list",
            "chosen": "string|list",
            "rejected": "string|list",
            "id": "string",
            "item_id": "string",
            "prompt_id": "string",
            "chosen_model": "string",
            "rejected_model": "string",
            "annotators": "list",
            "n_annotations": "integer",
            "agreement": "number",
            "strength": "string",
            "split": "string",
            "export_id": "string",
            "guideline_version": "integer?",
        },
        # margin with --margin; confidence (the consensus's probability of the chosen response)
        # with an aggregate computed first, such as dawid_skene.
        optional_columns={"margin": "number", "confidence": "number"},
    )
)
