"""How judgments become pairs, and the ids and splits every pair carries."""

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max

from annotations.models import Annotation
from annotations.queries import LeftOut
from labelhub.fastjson import canonical_json
from projects.models import Project

# Each vocabulary once: the command's choices, the export page's, the API's schema and the
# checks below read these.
# Each option's values with what the export page calls them.
STYLES = {"auto": "Auto", "standard": "Plain strings", "conversational": "Chat messages"}
TIE_HANDLING = {"drop": "Leave ties out", "separate": "Bundle: ties in ties.jsonl"}
SPLIT_NAMES = ("test", "validation")
# A share strictly between 0 and 1 such as 0.1, with at most 11 decimals, so that none rounds to 0 or 1.
_SHARE = r"0?\.[0-9]{0,5}[1-9][0-9]{0,5}"
_TEST, _VALIDATION = (rf"{name} *= *{_SHARE}" for name in SPLIT_NAMES)
# test and/or validation, each at most once: "test=0.1,validation=0.05". The schema of the API's
# `split` parameter is this pattern.
SPLITS_PATTERN = rf"^ *(?:{_TEST}(?: *, *{_VALIDATION})?|{_VALIDATION}(?: *, *{_TEST})?) *$"


# An item's consensus computed before the rows stream (the connection is busy while they do):
# {item external_id: (choice, confidence)}, the choice in `Preference`'s terms, the confidence the
# probability the method gives it, from the annotations the export keeps (`LeftOut`). Items it
# leaves out, or settles on a tie or "both are bad", make no pair.
ItemConsensus = Callable[[Project, LeftOut], Mapping[str, tuple[str, float]]]


@dataclass(frozen=True)
class Aggregate:
    """A way to make one pair per item. `consensus` is None for those the pairs decide from the
    item's own votes as they stream (majority); the others are computed first, from the whole
    project, by an app above this one, which registers its aggregate when it is ready."""

    name: str  # the option's value in the command, the page, the API and the manifest
    label: str  # what the export page calls it
    consensus: ItemConsensus | None = None


AGGREGATES: dict[str, Aggregate] = {
    aggregate.name: aggregate
    for aggregate in (
        Aggregate("none", "A pair per annotation"),
        Aggregate("majority", "Majority per item"),
    )
}


def register_aggregate(aggregate: Aggregate) -> Aggregate:
    """Offer `aggregate` wherever the aggregates are listed (the command, the page, the API)."""
    if AGGREGATES.get(aggregate.name, aggregate) != aggregate:
        raise ValueError(f"aggregate {aggregate.name!r} is registered twice")
    # The same one again is fine: an app's ready() runs again when the app registry is rebuilt.
    AGGREGATES[aggregate.name] = aggregate
    return aggregate


def _one_of(values: Mapping[str, object]) -> str:
    *first, last = values
    return f"{', '.join(first)} or {last}"


@dataclass(frozen=True)
class PairOptions:
    """How judgments become pairs. The defaults give one pair per preferring annotation."""

    style: str = "auto"  # auto | standard | conversational
    margin: bool = False
    aggregate: str = "none"  # none: a pair per annotation; others (see AGGREGATES): a pair per item
    min_annotations: int = 1  # items with fewer judgments are left out
    min_agreement: float = 0.0  # pairs whose judgments agree less are left out
    splits: tuple[tuple[str, float], ...] = ()  # e.g. (("test", 0.1),); the rest is "train"
    ties: str = "drop"  # drop | separate: a bundle then carries ties.jsonl beside the pairs
    # Keep the labels of experts the quality controls paused (every format; flagged in `annotations`).
    include_paused: bool = False

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be {_one_of(STYLES)}, not {self.style!r}")
        if self.ties not in TIE_HANDLING:
            raise ValueError(f"ties must be {_one_of(TIE_HANDLING)}, not {self.ties!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be {_one_of(AGGREGATES)}, not {self.aggregate!r}")
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
