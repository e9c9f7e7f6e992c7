"""A project's annotations as the frame `quality.bias` reads, and their per-annotation signals as
columns of the `annotations` export.

The frame has one row per annotation of the project (rubric-only ones too), in submission order,
read with a few queries as plain values: the annotation's own figures, the lengths of what the
expert was shown, and the characters of every rationale the judgment stored. The quality report
and the export read the same frame, so a figure means the same on the page, in the API and in a
file.

The export's columns (`SIGNAL_COLUMNS`) are added to the `annotations` format by
`QualityConfig.ready()`: the annotations app may not import this one. Their values are computed
once per export, before its rows stream.
"""

from collections import defaultdict
from typing import Any

import pandas as pd
from django.db.models.functions import Length

from annotations.exports import ColumnSource
from annotations.models import Annotation, Rating
from annotations.queries import gold_expected
from projects.models import Item, Project, Response
from quality.agreement import EXPERT
from quality.bias import annotation_signals, records

# What the frame holds, column by column (see `quality.bias` for those it reads).
FRAME_COLUMNS = [
    "pk",
    EXPERT,
    "item",
    "preference",
    "shown_left",
    "active_seconds",
    "rationale",
    "pasted_chars",
    "is_gold",
    "gold",  # the answer a gold item expects (None for the others)
]

# The per-annotation signals in the `annotations` export, each of one type (null: no figure).
SIGNAL_COLUMNS = {
    "chose_left": "boolean?",  # the response chosen was shown on the left (null: no side chosen)
    "chose_longer": "boolean?",  # ... was the longer one (null: no side chosen, or equal lengths)
    "seconds_per_1k_chars": "number?",  # active seconds per 1,000 characters read (null: no time)
    "too_fast": "boolean?",  # under the project's floor (null: no time, or no floor)
    "paste_share": "number?",  # of the rationales' characters, those pasted (null: no rationale)
    "rationale_repeated": "boolean?",  # the expert gave the same rationale on another item
    "rationale_short": "boolean?",  # under a quarter of the project's median rationale
}
DECIMALS = 4  # the rounding of the numbers, as the exports' other shares


def annotation_frame(project: Project) -> pd.DataFrame:
    """`project`'s annotations, one row each in pk order: `FRAME_COLUMNS`, and
    - `length_a`, `length_b`: the characters of the item's first and second response;
    - `chars_read`: the characters of the prompt and of the responses shown (the pair when the
      project compares, every response when it only rates);
    - `rationale_chars`: the characters of the judgment's rationales as stored, its own and its
      criteria's (what `pasted_chars` counts within)."""
    rows = (
        Annotation.objects.filter(project=project)
        .order_by("pk")
        .values_list(
            "pk",
            "expert_id",
            "item_id",
            "preference",
            "assignment__shown_left",
            "active_seconds",
            "rationale",
            "pasted_chars",
            "item__is_gold",
        )
        .annotate(expected=gold_expected())
    )
    frame = pd.DataFrame(list(rows), columns=FRAME_COLUMNS)
    lengths = _response_lengths(project)
    frame["length_a"] = frame["item"].map(lengths["length_a"]).fillna(0).astype(int)
    frame["length_b"] = frame["item"].map(lengths["length_b"]).fillna(0).astype(int)
    shown = lengths["pair"] if project.compares else lengths["all"]
    read = frame["item"].map(shown).fillna(0) + frame["item"].map(_prompt_chars(project)).fillna(0)
    frame["chars_read"] = read.astype(int)
    notes = _criterion_rationale_chars(project)
    own = frame["rationale"].str.len()
    frame["rationale_chars"] = (own + frame["pk"].map(notes).fillna(0)).astype(int)
    return frame


def _response_lengths(project: Project) -> pd.DataFrame:
    """Per item: the characters of its first and second response, of the two, and of them all."""
    by_item: dict[int, dict[str, int]] = defaultdict(lambda: {"length_a": 0, "length_b": 0, "all": 0})
    for item_id, position, chars in (
        Response.objects.filter(item__in=_judged_items(project))
        .annotate(chars=Length("content"))
        .values_list("item_id", "position", "chars")
    ):
        lengths = by_item[item_id]
        lengths["all"] += chars
        if position in (0, 1):
            lengths["length_a" if position == 0 else "length_b"] = chars
    table = pd.DataFrame.from_dict(by_item, orient="index", columns=["length_a", "length_b", "all"])
    table["pair"] = table["length_a"] + table["length_b"]
    return table


def _judged_items(project: Project) -> Any:
    return Annotation.objects.filter(project=project).values("item_id")


def _prompt_chars(project: Project) -> pd.Series:
    """Per judged item, the characters an expert reads in its prompt: its text, or its messages'."""
    prompts = Item.objects.filter(pk__in=_judged_items(project))
    chars = {pk: prompt_chars(prompt) for pk, prompt in prompts.values_list("pk", "prompt").iterator()}
    return pd.Series(chars, dtype="int64")


def prompt_chars(prompt: Any) -> int:
    """The characters an expert reads in a prompt: its text, or its messages' contents."""
    if isinstance(prompt, str):
        return len(prompt)
    if isinstance(prompt, list):
        return sum(len(str(turn.get("content", ""))) for turn in prompt if isinstance(turn, dict))
    return 0


def _criterion_rationale_chars(project: Project) -> pd.Series:
    """Per annotation, the characters of its criterion rationales (stored trimmed; a response
    marked not ratable keeps none)."""
    totals: dict[int, int] = defaultdict(int)
    ratings = Rating.objects.filter(annotation__project=project).values_list("annotation_id", "rationales")
    for annotation_id, rationales in ratings.iterator():
        totals[annotation_id] += sum(len(str(text)) for text in (rationales or {}).values())
    return pd.Series(totals, dtype="int64")


def floor_of(project: Project) -> float | None:
    """The project's floor for "too fast", in seconds per 1,000 characters; None when it has none."""
    return float(project.min_seconds_per_1k_chars) or None


def signal_values(project: Project) -> dict[int, tuple[Any, ...]]:
    """Per annotation pk, its `SIGNAL_COLUMNS` in order (None where there is no figure)."""
    frame = annotation_frame(project)
    if frame.empty:
        return {}
    signals = annotation_signals(frame, floor=floor_of(project))
    if "too_fast" not in signals:  # no floor: nothing is too fast, and nothing is known not to be
        signals["too_fast"] = pd.array([pd.NA] * len(signals), dtype="boolean")
    for column in ("seconds_per_1k_chars", "paste_share"):
        signals[column] = signals[column].round(DECIMALS)
    signals.index = frame["pk"].to_numpy()
    return {
        row["pk"]: tuple(row[column] for column in SIGNAL_COLUMNS)
        for row in records(signals[list(SIGNAL_COLUMNS)], index="pk")
    }


SIGNALS = ColumnSource(name="quality signals", columns=SIGNAL_COLUMNS, values=signal_values)
