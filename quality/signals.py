"""A project's annotations as the frame `quality.bias` reads, and their per-annotation signals,
the values of the `annotations` export's signal columns (`quality.export_columns`).

The frame has one row per annotation of the project (rubric-only ones too), in submission order,
read with a few queries as plain values: the annotation's own figures, the lengths of what the
expert was shown, and the characters of every rationale the judgment stored. The quality report
and the export read the same frame, so a figure means the same on the page, in the API and in a
file.
"""

from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from itertools import batched
from math import isnan, nan
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast, Length

from annotations.models import Annotation, Rating
from annotations.queries import gold_expected, is_label
from labelhub.fastjson import loads
from projects.models import Item, Project, Response
from quality.agreement import EXPERT
from quality.bias import annotation_signals
from quality.export_columns import SIGNAL_COLUMNS

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
DECIMALS = 4  # the rounding of the export's numbers, as its other shares
CHUNK = 20_000  # rows read at once


def annotation_frame(project: Project) -> pd.DataFrame:
    """`project`'s annotations, one row each in pk order: `FRAME_COLUMNS`, and
    - `length_a`, `length_b`: the characters of the item's first and second response;
    - `chars_read`: the characters of the prompt and of the responses shown (the pair when the
      project compares, every response when it only rates);
    - `rationale_chars`: the characters of the judgment's rationales as stored, its own and its
      criteria's (what `pasted_chars` counts within)."""
    rows = (
        # Labels only: a qualification's answers are no data (`annotations.queries.is_label`).
        Annotation.objects.filter(is_label(), project=project)
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
    frame = _read(rows, FRAME_COLUMNS)
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
    """Per judged item: the characters of its first and second response, of the two, and of all."""
    # One length per response, added up here: aggregated in SQL, each sum computed it again.
    rows = (
        Response.objects.filter(item__in=_judged_items(project))
        .values_list("item_id", "position", Length("content"))
        .order_by()
    )
    responses = _read(rows, ["item", "position", "chars"])
    by_item = responses.groupby("item")
    table = pd.DataFrame(
        {
            "length_a": responses[responses["position"] == 0].set_index("item")["chars"],
            "length_b": responses[responses["position"] == 1].set_index("item")["chars"],
            "all": by_item["chars"].sum(),
        }
    )
    table = table.fillna(0).astype(int)
    table["pair"] = table["length_a"] + table["length_b"]
    return table


def _judged_items(project: Project) -> QuerySet:
    return Annotation.objects.filter(project=project).values("item_id")


def _prompt_chars(project: Project) -> pd.Series:
    """Per judged item, the characters an expert reads in its prompt: its text, or its messages'."""
    # As text, read by orjson: the JSON field's own decoding took most of the frame's time.
    judged = Item.objects.filter(pk__in=_judged_items(project))
    prompts = judged.values_list("pk", Cast("prompt", TextField()))
    chars = _read(prompts, ["item", "chars"], lambda pk, text: (pk, prompt_chars(loads(text))))
    return chars.set_index("item")["chars"]


def _read(rows: QuerySet, columns: list[str], each: Callable[..., tuple] | None = None) -> pd.DataFrame:
    """The rows of `rows` (a values_list), each made `each(*row)` if given, as a frame with
    `columns`, read a chunk at a time: a list of every row first took several times the frame's
    memory (a million annotations: a gigabyte for a frame of 130 MB)."""
    chunks = [
        pd.DataFrame([each(*row) for row in batch] if each else list(batch), columns=columns)
        for batch in batched(rows.iterator(chunk_size=CHUNK), CHUNK)
    ]
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)


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


def signal_values(project: Project) -> "SignalTable":
    """Per annotation pk, its `SIGNAL_COLUMNS` in order (None where there is no figure); numbers
    rounded to `DECIMALS`."""
    frame = annotation_frame(project)
    signals = annotation_signals(frame, floor=floor_of(project))
    if "too_fast" not in signals:  # no floor: nothing is too fast, and nothing is known not to be
        signals["too_fast"] = pd.array([pd.NA] * len(signals), dtype="boolean")
    return SignalTable(frame["pk"], [signals[column] for column in SIGNAL_COLUMNS])


class SignalTable(Mapping[int, tuple[Any, ...]]):
    """Each annotation's signals by its pk, held as plain arrays while an export streams: a dict of
    tuples took some 240 bytes an annotation, these 29 (a flag is -1 for null, 0 or 1; a number
    NaN for null)."""

    def __init__(self, pks: pd.Series, columns: list[pd.Series]) -> None:
        order = np.argsort(pks.to_numpy(), kind="stable")
        self._pks = _packed("q", pks.to_numpy(dtype="int64")[order])
        self._columns = [
            _packed("d", column.round(DECIMALS).to_numpy(dtype="float64", na_value=nan)[order])
            if pd.api.types.is_float_dtype(column.dtype)
            else _packed("b", column.astype("Int8").fillna(-1).to_numpy(dtype="int8")[order])
            for column in columns
        ]

    def __getitem__(self, pk: int) -> tuple[Any, ...]:
        at = bisect_left(self._pks, pk)
        if at == len(self._pks) or self._pks[at] != pk:
            raise KeyError(pk)
        return tuple(_unpacked(column[at], column.typecode) for column in self._columns)

    def __iter__(self) -> Iterator[int]:
        return iter(self._pks)

    def __len__(self) -> int:
        return len(self._pks)


def _packed(typecode: str, values: np.ndarray) -> array:
    packed = array(typecode)
    packed.frombytes(values.tobytes())
    return packed


def _unpacked(value: float, typecode: str) -> Any:
    if typecode == "d":
        return None if isnan(value) else value
    return None if value < 0 else bool(value)
