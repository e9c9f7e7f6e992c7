"""Training-ready exports, streamed row by row from the database.

Rows are produced from a chunked iterator (a server-side cursor on PostgreSQL), so memory stays
flat whatever the project's size, and in a fixed order, so that the same data always gives the
same bytes.
"""

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import batched, groupby
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery

from annotations.models import Annotation, Assignment, Rating, Skip
from labelhub.fastjson import canonical_json, dumps_line, has_float
from labelhub.fastjson import loads as json_loads
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item, Project, Response

FORMATS = ("pairs", "kto", "annotations", "ratings", "ratings_mean", "ties")
CHUNK_SIZE = 2000
STRENGTH_NAMES = {1: "slightly", 2: "clearly", 3: "much"}


def _dumps(row: dict[str, Any], *, floats_checked: bool = False) -> bytes:
    return dumps_line(row, floats_checked=floats_checked)


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


# The margin TRL's reward trainer adds to the score gap: how much better the chosen response is.
STRENGTH_MARGINS = {1: 1.0, 2: 2.0, 3: 3.0}
SPLIT_NAMES = ("test", "validation")
# A share strictly between 0 and 1 such as 0.1, with at most 11 decimals, so that none rounds to 0 or 1.
_SHARE = r"0?\.[0-9]{0,5}[1-9][0-9]{0,5}"
_TEST, _VALIDATION = (rf"{name} *= *{_SHARE}" for name in SPLIT_NAMES)
# test and/or validation, each at most once: "test=0.1,validation=0.05". The schema of the API's
# `split` parameter is this pattern.
SPLITS_PATTERN = rf"^ *(?:{_TEST}(?: *, *{_VALIDATION})?|{_VALIDATION}(?: *, *{_TEST})?) *$"


@dataclass(frozen=True)
class PairOptions:
    """How judgments become pairs. The defaults give one pair per preferring annotation."""

    style: str = "auto"  # auto | standard | conversational
    margin: bool = False
    aggregate: str = "none"  # none: a pair per annotation; majority: a pair per item
    min_annotations: int = 1  # items with fewer judgments are left out
    min_agreement: float = 0.0  # pairs whose judgments agree less are left out
    splits: tuple[tuple[str, float], ...] = ()  # e.g. (("test", 0.1),); the rest is "train"
    ties: str = "drop"  # drop | separate: a bundle then carries ties.jsonl beside the pairs

    def __post_init__(self) -> None:
        if self.style not in ("auto", "standard", "conversational"):
            raise ValueError(f"style must be auto, standard or conversational, not {self.style!r}")
        if self.ties not in ("drop", "separate"):
            raise ValueError(f"ties must be drop or separate, not {self.ties!r}")
        if self.aggregate not in ("none", "majority"):
            raise ValueError(f"aggregate must be none or majority, not {self.aggregate!r}")
        if self.min_annotations < 1 or not 0 <= self.min_agreement <= 1:
            raise ValueError("min_annotations must be at least 1 and min_agreement between 0 and 1")
        if any(name not in SPLIT_NAMES or not 0 < share < 1 for name, share in self.splits):
            raise ValueError("splits are test and/or validation, each a share between 0 and 1")
        if sum(share for _, share in self.splits) >= 1:
            raise ValueError("the split shares must leave something for train")


def parse_splits(text: str) -> tuple[tuple[str, float], ...]:
    """'test=0.1,validation=0.05' as ((name, share), ...); ValueError says what is wrong."""
    if not text.strip():
        return ()
    if not re.fullmatch(SPLITS_PATTERN, text):
        raise ValueError(
            f"bad split {text.strip()!r}: write name=share for test and/or validation, each share "
            "between 0 and 1, e.g. test=0.1,validation=0.05"
        )
    return tuple(
        (name.strip(), float(share)) for name, share in (part.split("=") for part in text.split(","))
    )


def prompt_id(prompt: Any) -> str:
    return hashlib.sha256(canonical_json(prompt)).hexdigest()[:16]


def split_of(prompt_key: str, splits: tuple[tuple[str, float], ...]) -> str:
    """The split of a prompt, from its hash: the same prompt is always in the same split."""
    if not splits:
        return "train"
    point = int(prompt_key, 16) / 16 ** len(prompt_key)
    edge = 0.0
    for name, share in splits:
        edge += share
        if point < edge:
            return name
    return "train"


def export_id_for(project: Project, options: PairOptions) -> str:
    # Derived from the data and the options only, so an identical re-export is byte-identical.
    state = Annotation.objects.filter(project=project).aggregate(n=Count("pk"), last=Max("pk"))
    return hashlib.sha256(f"{project.slug}|{options}|{state['n']}|{state['last']}".encode()).hexdigest()[:16]


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


class ItemRow(NamedTuple):  # a tuple: built once per exported item, several times faster
    external_id: str
    prompt: Any
    is_chat: bool

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.prompt) if self.is_chat else [{"role": "user", "content": self.prompt}]


COMPARISON_VALUES = ("a", "b", "tie", "both_bad")
COMPARISONS = "('a', 'b', 'tie', 'both_bad')"

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
    WHERE a.project_id = %(project)s AND a.preference IN {COMPARISONS}
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
STREAM_CHUNK = 500


def _streamed(query: str, params: dict[str, Any]) -> Iterator[tuple]:
    """The rows of `query`, streamed as the server produces them, a chunk of rows at a time.

    One statement, planned as a whole (a server-side cursor is planned for its first rows, which
    made a walk over these joins several times slower), and the server computes the next rows
    while this process writes the last ones. Memory stays flat: one chunk is held at once.
    The connection is busy until the rows are all read, so the caller must not query meanwhile.
    """
    with connection.cursor() as wrapper:
        yield from wrapper.cursor.stream(query, params, size=STREAM_CHUNK)


def _on_postgresql() -> bool:
    """The streamed statements below are PostgreSQL's; other databases (the embedded SQLite
    default) get the same rows, in the same order, from the ORM."""
    return connection.vendor == "postgresql"


def _judged_items_by_orm(project: Project) -> Iterator[tuple]:
    """JUDGED_ITEMS's rows, for databases other than PostgreSQL: the judgments in item order,
    and the items and responses they need a chunk of items at a time."""
    judgments = (
        Annotation.objects.filter(project=project, preference__in=COMPARISON_VALUES)
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


def _item_judgments(project: Project) -> Iterator[tuple[ItemRow, list[JudgmentRow], dict[int, ResponseRow]]]:
    """Each judged item with its comparison judgments and its responses, in item order.

    Plain values, not model instances: building models (and sending their signals) took most of
    an export's time.
    """
    if _on_postgresql():
        rows = _streamed(JUDGED_ITEMS, {"project": project.pk})
    else:
        rows = _judged_items_by_orm(project)
    for external_id, prompt, is_chat, content_0, model_0, content_1, model_1, *judged in rows:
        responses = {}
        if content_0 is not None:
            responses[0] = ResponseRow(0, content_0, model_0)
        if content_1 is not None:
            responses[1] = ResponseRow(1, content_1, model_1)
        judgments = list(map(JudgmentRow, *judged))
        prompt = json_loads(prompt) if _on_postgresql() else prompt  # PostgreSQL sends JSON text
        yield ItemRow(external_id, prompt, is_chat), judgments, responses


def export_pairs(
    project: Project, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """TRL preference pairs (explicit prompt), with metadata columns of one type each.

    Never writes a pair whose chosen text equals its rejected text. `tally`, when given, counts
    what was kept and what was dropped and why (for a bundle's manifest).
    """
    options = options or PairOptions()
    has_chat = _is_conversational(project, annotations__preference__in=["a", "b"])
    if options.style == "standard" and has_chat:
        # A chat has no faithful plain-text form without a model's chat template.
        raise ValueError(
            "this project has chat prompts: the standard (plain text) style cannot hold them; "
            "use --style conversational or auto"
        )
    conversational = has_chat if options.style == "auto" else options.style == "conversational"
    return _pair_lines(
        project, options, tally if tally is not None else Counter(), conversational=conversational
    )


def _pair_lines(
    project: Project, options: PairOptions, tally: Counter, *, conversational: bool
) -> Iterator[bytes]:
    export_id = export_id_for(project, options)
    pseudonyms = _Pseudonyms(project)
    for item, judgments, responses in _item_judgments(project):
        counts = Counter([a.preference for a in judgments])
        tally["dropped: tie or both bad"] += counts["tie"] + counts["both_bad"]
        if len(judgments) < options.min_annotations:
            tally["dropped: too few judgments"] += counts["a"] + counts["b"]
            continue
        if options.aggregate == "majority":
            (top, votes), *rest = [*counts.most_common(), ("", 0)]
            if top not in ("a", "b") or votes == rest[0][1]:
                tally["dropped: no majority"] += counts["a"] + counts["b"]
                continue
            tally["dropped: outvoted"] += counts["a"] + counts["b"] - votes
            groups = [[a for a in judgments if a.preference == top]]
        else:
            groups = [[a] for a in judgments if a.preference in ("a", "b")]
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
            yield _dumps(
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
                    },
                ),
                # Its only floats are the rounded agreement and margin, unless the prompt has some.
                floats_checked=not has_float(item.prompt),
            )


class _Pseudonyms(dict[int, str]):
    """The project's annotator pseudonyms, each computed once per export."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project_id = project.pk

    def __missing__(self, user_id: int) -> str:
        self[user_id] = pseudonym = annotator_pseudonym(project_id=self.project_id, user_id=user_id)
        return pseudonym


def _pair_row(
    pseudonyms: _Pseudonyms,
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
        "id": f"{item.external_id}:{annotators[0]}" if len(group) == 1 else f"{item.external_id}:majority",
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
    return row


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


JUDGMENTS = """
SELECT i.external_id::text, a.expert_id, a.preference::text, a.strength, a.rationale, s.shown_left,
    a.active_seconds, a.submitted_at, g.version, i.is_gold
FROM annotations_annotation a
JOIN projects_item i ON i.id = a.item_id
JOIN annotations_assignment s ON s.id = a.assignment_id
LEFT JOIN projects_guideline g ON g.id = a.guideline_id
WHERE a.project_id = %(project)s AND a.preference <> ''
ORDER BY a.item_id, a.id
"""
SKIPS = """
SELECT i.external_id::text, k.expert_id, k.reason::text, k.note, i.is_gold, k.created_at,
    (SELECT s.shown_left FROM annotations_assignment s
     WHERE s.item_id = k.item_id AND s.expert_id = k.expert_id LIMIT 1)
FROM annotations_skip k
JOIN projects_item i ON i.id = k.item_id
WHERE k.project_id = %(project)s
ORDER BY k.item_id, k.id
"""


def _judgments_by_orm(project: Project) -> Iterator[tuple]:
    """JUDGMENTS's rows, for databases other than PostgreSQL."""
    return (
        Annotation.objects.filter(project=project)
        .exclude(preference="")
        .order_by("item_id", "pk")
        .values_list(
            "item__external_id",
            "expert_id",
            "preference",
            "strength",
            "rationale",
            "assignment__shown_left",
            "active_seconds",
            "submitted_at",
            "guideline__version",
            "item__is_gold",
        )
        .iterator(chunk_size=CHUNK_SIZE)
    )


def _skips_by_orm(project: Project) -> Iterator[tuple]:
    """SKIPS's rows, for databases other than PostgreSQL."""
    shown = Assignment.objects.filter(item=OuterRef("item_id"), expert=OuterRef("expert_id")).values(
        "shown_left"
    )
    return (
        Skip.objects.filter(project=project)
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


def export_annotations(project: Project) -> Iterator[bytes]:
    """Every judgment as it was made, skips included: one line each, judgments first, then skips.

    `shown_order` lists the item's response positions as displayed (left first). Rubric-only
    judgments have no outcome of this kind; they are in the `ratings` export. Plain values from
    one streamed query each, like the pairs.
    """
    pseudonyms = _Pseudonyms(project)
    params = {"project": project.pk}
    if _on_postgresql():
        judgments, skips = _streamed(JUDGMENTS, params), _streamed(SKIPS, params)
    else:
        judgments, skips = _judgments_by_orm(project), _skips_by_orm(project)
    for (
        item_id,
        expert_id,
        outcome,
        strength,
        rationale,
        shown_left,
        seconds,
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
                "submitted_at": submitted.isoformat(),
                "guideline_version": version,
            },
            gold,
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
                "submitted_at": created.isoformat(),
                "guideline_version": None,
            },
            gold,
        )


def _judgment_line(item_id: str, annotator: str, fields: dict[str, Any], gold: bool) -> bytes:
    # No floats: orjson's bytes are json's.
    return _dumps({"item_id": item_id, "annotator": annotator, **fields, "gold": gold}, floats_checked=True)


def _criterion_keys(project: Project) -> dict[int, list[str]]:
    """Each rubric version's criterion keys, in rubric order: every line of a version has them all."""
    keys_of: dict[int, list[str]] = {}
    for version, key in project.criteria.order_by("version", "position", "id").values_list("version", "key"):
        keys_of.setdefault(version, []).append(key)
    return keys_of


def export_ratings(project: Project) -> Iterator[bytes]:
    """One line per (expert, response): the rubric scores, with the same keys on every line of a
    rubric version (null where an optional criterion was left out or the response not ratable)."""
    conversational = _is_conversational(project, annotations__ratings__isnull=False)
    keys_of = _criterion_keys(project)
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


def export_ratings_mean(project: Project) -> Iterator[bytes]:
    """The ratings aggregated: one line per (response, rubric version) with the mean of each
    criterion (null where nobody scored it) and the raw scores behind it."""
    conversational = _is_conversational(project, annotations__ratings__isnull=False)
    keys_of = _criterion_keys(project)
    ratings = (
        Rating.objects.filter(annotation__project=project)
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
        yield _dumps(
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


def export_ties(project: Project) -> Iterator[bytes]:
    """Tie judgments, which make no pair: one line each, for those who model ties separately."""
    conversational = _is_conversational(project, annotations__preference="tie")
    for annotation in _pair_rows(project, ["tie"]).iterator(chunk_size=CHUNK_SIZE):
        item = annotation.item
        texts = [r.content for r in item.responses.all()]
        yield _dumps(
            {
                "prompt": item.messages if conversational else item.prompt,
                "responses": [[{"role": "assistant", "content": t}] for t in texts]
                if conversational
                else texts,
                "item_id": item.external_id,
                "annotator": annotator_pseudonym(project_id=project.pk, user_id=annotation.expert_id),
            }
        )


def export_lines(
    project: Project, fmt: str, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    if fmt == "pairs":
        return export_pairs(project, options, tally)
    if fmt == "ratings":
        return export_ratings(project)
    if fmt == "ratings_mean":
        return export_ratings_mean(project)
    if fmt == "ties":
        return export_ties(project)
    if fmt == "kto":
        return export_kto(project)
    if fmt == "annotations":
        return export_annotations(project)
    raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def started_export(
    project: Project, fmt: str, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """`export_lines`, checked: an export the options cannot give (e.g. a style that cannot hold
    the prompts) raises ValueError here, before any byte is sent.

    Nothing is read yet: the caller may use the database (e.g. to audit the download) before it
    iterates, but not while it iterates, since an export streams its rows on the connection.
    """
    return export_lines(project, fmt, options, tally)
