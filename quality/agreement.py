"""How far experts agree: percent agreement, Cohen's kappa, Fleiss' kappa, Krippendorff's alpha,
and each expert against the consensus of the others, computed with pandas (numpy as its engine).

Every function reads a *judgment frame*, one row per judgment, in three columns:
- `item`: the unit judged (an item for a choice, a response for a rubric score);
- `expert`: who judged it;
- `value`: what they said: a label for nominal figures, a number for ordinal and interval ones.
Not every expert judges every item. A row whose value is missing (None, NaN) is no judgment and
is left out; two judgments by one expert of one item are refused, as the database refuses them.
`quality.frames` builds these frames from a project's annotations.

Only items judged by two experts or more tell anything about agreement. A figure needs at least
`min_items` of them (MIN_ITEMS unless told; for a pair of experts, items they share). With fewer,
or where the figure is undefined (everyone gave one and the same value, so there is no chance
agreement to correct for), the answer is None, or NaN in a table: never a 0, which would read as
"no better than chance".

The work is vectorised over items (group-bys, count tables, matrix products): no Python loop
runs over items or judgments. 100,000 annotations take about 0.2 s for every figure together
(benchmarks/quality_bench.py).
"""

from typing import Literal

import numpy as np
import pandas as pd

ITEM, EXPERT, VALUE = "item", "expert", "value"
MIN_ITEMS = 10

Level = Literal["nominal", "ordinal", "interval"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval")


def judgments(frame: pd.DataFrame, *, level: Level = "nominal") -> pd.DataFrame:
    """`frame`'s judgments in the three columns, missing values left out, numbers as floats for
    the ordinal and interval levels. Raises ValueError, saying what is wrong, for anything that
    is not a judgment frame."""
    if level not in LEVELS:
        raise ValueError(f"Unknown level of measurement {level!r}: use one of {', '.join(LEVELS)}.")
    lacking = [column for column in (ITEM, EXPERT, VALUE) if column not in frame.columns]
    if lacking:
        raise ValueError(
            f"A judgment frame has the columns item, expert and value; this one lacks {lacking}."
        )
    kept = frame.loc[frame[VALUE].notna(), [ITEM, EXPERT, VALUE]]
    if level != "nominal":
        numbers = pd.to_numeric(kept[VALUE], errors="coerce")
        if numbers.isna().any():
            row = kept[numbers.isna()].iloc[0]
            raise ValueError(
                f"{level.capitalize()} values are numbers; expert {row[EXPERT]} gave item {row[ITEM]} "
                f"{row[VALUE]!r}."
            )
        kept = kept.assign(**{VALUE: numbers.astype(float)})
    twice = kept.duplicated([ITEM, EXPERT])
    if twice.any():
        row = kept[twice].iloc[0]
        raise ValueError(
            f"Expert {row[EXPERT]} judged item {row[ITEM]} twice; a judgment frame has one value per "
            "item and expert."
        )
    return kept


def value_table(frame: pd.DataFrame, *, level: Level = "nominal") -> pd.DataFrame:
    """How many experts gave each value to each item: one row per judged item, one column per
    value given, in order."""
    kept = judgments(frame, level=level)
    return kept.groupby([ITEM, VALUE]).size().unstack(fill_value=0)


def _pairable(frame: pd.DataFrame, level: Level = "nominal") -> pd.DataFrame:
    """The value table of the items judged twice or more, with the values given on them."""
    table = value_table(frame, level=level)
    table = table[table.sum(axis=1) >= 2]
    return table.loc[:, table.sum(axis=0) > 0]


def _enough(count: int, min_items: int) -> bool:
    return count >= max(min_items, 1)


def percent_agreement(frame: pd.DataFrame, *, min_items: int = MIN_ITEMS) -> float | None:
    """The share of agreeing pairs among all pairs of judgments of one item, over all items.

    Pooled over pairs: an item judged by m experts counts m(m-1)/2 pairs, so items with more
    judgments weigh more. With the same number of experts on every item, it is the mean of the
    items' own shares (`item_agreement`).
    """
    table = _pairable(frame)
    if not _enough(len(table), min_items):
        return None
    counts = table.to_numpy(dtype=float)
    judged = counts.sum(axis=1)
    return float((counts * (counts - 1)).sum() / (judged * (judged - 1)).sum())


def item_agreement(frame: pd.DataFrame) -> pd.Series:
    """Each item's share of agreeing pairs of judgments, for items judged by two experts or more."""
    table = _pairable(frame)
    counts = table.to_numpy(dtype=float)
    judged = counts.sum(axis=1)
    shares = (counts * (counts - 1)).sum(axis=1) / (judged * (judged - 1))
    return pd.Series(shares, index=table.index, name="agreement")


def _kappa(agreed: np.ndarray, shared: np.ndarray, chance: np.ndarray) -> np.ndarray:
    """Cohen's kappa from counts: `agreed` items of `shared`, `chance` = Σ_k n1_k·n2_k (each expert's
    count of value k). NaN where both experts gave one and the same value throughout."""
    shared = shared.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (agreed * shared - chance) / (shared * shared - chance)
    return np.where(shared * shared == chance, np.nan, kappa)


def cohen_kappa(
    frame: pd.DataFrame, first: object, second: object, *, min_items: int = MIN_ITEMS
) -> float | None:
    """Cohen's kappa of two experts over the items both judged (at least `min_items` of them)."""
    if first == second:
        raise ValueError(f"Cohen's kappa compares two experts; {first} was given twice.")
    kept = judgments(frame)
    both = kept[kept[EXPERT].isin([first, second])].pivot(index=ITEM, columns=EXPERT, values=VALUE)
    if first not in both.columns or second not in both.columns:
        return None
    shared = both[[first, second]].dropna()
    if not _enough(len(shared), min_items):
        return None
    counts_first = shared[first].value_counts()
    counts_second = shared[second].value_counts()
    chance = counts_first.mul(counts_second, fill_value=0).sum()
    agreed = (shared[first] == shared[second]).sum()
    kappa = _kappa(np.array([agreed]), np.array([len(shared)]), np.array([chance]))[0]
    return None if np.isnan(kappa) else float(kappa)


def pairwise_agreement(frame: pd.DataFrame, *, min_items: int = MIN_ITEMS) -> pd.DataFrame:
    """Every pair of experts with at least `min_items` items in common: `first` and `second`
    (first < second), `shared` (items both judged), `percent` (share of those they agree on) and
    `cohen_kappa` (NaN where undefined), ordered by pair."""
    kept = judgments(frame)
    expert_codes, experts = pd.factorize(kept[EXPERT], sort=True)
    value_codes, values = pd.factorize(kept[VALUE], sort=True)
    first, second, first_values, second_values = _judgment_pairs(
        pd.factorize(kept[ITEM])[0], expert_codes, value_codes
    )
    pair, keys = pd.factorize(first * len(experts) + second, sort=True)
    shared = np.bincount(pair, minlength=len(keys))
    agreed = np.bincount(pair, weights=first_values == second_values, minlength=len(keys))
    # Each expert's count of each value on the items of the pair: Σ_k of their products is chance.
    size = max(len(values), 1)
    cells = len(keys) * size
    counts_first = np.bincount(pair * size + first_values, minlength=cells).reshape(-1, size)
    counts_second = np.bincount(pair * size + second_values, minlength=cells).reshape(-1, size)
    chance = (counts_first * counts_second).sum(axis=1).astype(float)
    enough = shared >= max(min_items, 1)
    keys, shared, agreed, chance = keys[enough], shared[enough], agreed[enough], chance[enough]
    return pd.DataFrame(
        {
            "first": experts[keys // len(experts)],
            "second": experts[keys % len(experts)],
            "shared": shared,
            "percent": agreed / shared,
            "cohen_kappa": _kappa(agreed, shared, chance),
        }
    )


def _judgment_pairs(items: np.ndarray, experts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each pair of judgments of one item, once, as (expert, other expert, their values) with the
    first expert's code the lower: as many rows as the items' pairs, never items x experts."""
    order = np.argsort(items, kind="stable")
    items, experts, values = items[order], experts[order], values[order]
    judged = np.bincount(items)
    rank = np.arange(len(items)) - (np.cumsum(judged) - judged)[items]
    left, right = [], []
    # The pairs d rows apart within an item, for each d: a loop over the most judgments of an item.
    for distance in range(1, judged.max(initial=0)):
        here = np.flatnonzero(rank + distance < judged[items])
        left.append(here)
        right.append(here + distance)
    left = np.concatenate(left) if left else np.zeros(0, dtype=np.intp)
    right = np.concatenate(right) if right else np.zeros(0, dtype=np.intp)
    swap = experts[left] > experts[right]
    low, high = np.where(swap, right, left), np.where(swap, left, right)
    return experts[low], experts[high], values[low], values[high]


def fleiss_kappa(frame: pd.DataFrame, *, min_items: int = MIN_ITEMS) -> float | None:
    """Fleiss' kappa over the items judged by two experts or more.

    Fleiss (1971) asks the same number of experts on every item; with it, this is his kappa exactly.
    With varying numbers it is the usual generalisation: each item's agreement is its share of
    agreeing pairs, Σ_k n_k(n_k - 1) / (m(m - 1)) for its m judgments, and the observed agreement
    is the plain mean of these over items (each item weighs the same, however many judged it);
    chance agreement is Σ_k p_k², p_k being value k's share of all judgments of those items.
    Items judged once are left out.
    """
    table = _pairable(frame)
    if not _enough(len(table), min_items):
        return None
    counts = table.to_numpy(dtype=float)
    judged = counts.sum(axis=1)
    observed = (((counts * counts).sum(axis=1) - judged) / (judged * (judged - 1))).mean()
    shares = counts.sum(axis=0) / counts.sum()
    chance = (shares * shares).sum()
    if chance >= 1:  # one value only: nothing to tell agreement from chance
        return None
    return float((observed - chance) / (1 - chance))


def coincidences(frame: pd.DataFrame, *, level: Level = "nominal") -> pd.DataFrame:
    """Krippendorff's coincidence matrix: o[c, k] = Σ over items of the ordered pairs of judgments
    (by two different experts) valued c and k, each item's pairs weighted 1/(m - 1) for its m
    judgments; items judged once have no pairs. Rows and columns are the values given, in order."""
    return _coincidences(_pairable(frame, level))


def _coincidences(table: pd.DataFrame) -> pd.DataFrame:
    counts = table.to_numpy(dtype=float)
    weighted = counts / (counts.sum(axis=1) - 1)[:, np.newaxis]
    matrix = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    return pd.DataFrame(matrix, index=table.columns, columns=table.columns)


def _distances(values: np.ndarray, totals: np.ndarray, level: Level) -> np.ndarray:
    """δ²(c, k) between the scale's values (in order), given each value's total `totals` in the
    coincidence matrix (which the ordinal metric reads)."""
    if level == "nominal":
        return 1 - np.eye(len(values))
    if level == "interval":
        return np.subtract.outer(values, values) ** 2
    # Ordinal: the judgments between c and k (both included, each end counting half), squared.
    position = np.arange(len(values))
    low, high = np.minimum.outer(position, position), np.maximum.outer(position, position)
    running = np.cumsum(totals)
    between = running[high] - running[low] + totals[low]
    return (between - np.add.outer(totals, totals) / 2) ** 2


def krippendorff_alpha(frame: pd.DataFrame, *, level: Level, min_items: int = MIN_ITEMS) -> float | None:
    """Krippendorff's alpha at `level` (nominal, ordinal or interval), from the coincidence matrix:
    1 - (n - 1) Σ o[c,k]·δ²(c,k) / Σ n_c·n_k·δ²(c,k), n_c being value c's pairable judgments.

    Missing judgments are simply absent: every item judged twice or more counts, whoever judged it.
    """
    if level == "interval":
        return _interval_alpha(frame, min_items)
    table = _pairable(frame, level)
    if not _enough(len(table), min_items):
        return None
    matrix = _coincidences(table)
    observed = matrix.to_numpy()
    totals = observed.sum(axis=0)
    values = matrix.columns.to_numpy(dtype=float) if level != "nominal" else matrix.columns.to_numpy()
    distances = _distances(values, totals, level)
    expected = (np.outer(totals, totals) * distances).sum() / (totals.sum() - 1)
    if expected == 0:  # one value only
        return None
    return float(1 - (observed * distances).sum() / expected)


def _interval_alpha(frame: pd.DataFrame, min_items: int) -> float | None:
    """The interval alpha, the coincidence matrix's two sums in closed form: Σ o·δ² is
    Σ_u m_u·s²_u over items (s²_u the item's sample variance) and Σ n_c·n_k·δ² / (n - 1) is n·s²
    over all pairable judgments. Scores on a fine scale make no matrix of values x values."""
    kept = judgments(frame, level="interval")
    pairable = kept[kept.groupby(ITEM)[VALUE].transform("size") >= 2]
    by_item = pairable.groupby(ITEM)[VALUE]
    if not _enough(by_item.ngroups, min_items) or pairable[VALUE].nunique() < 2:
        return None
    within = (by_item.size() * by_item.var()).sum()
    return float(1 - within / (len(pairable) * pairable[VALUE].var()))


def expert_consensus(
    frame: pd.DataFrame, *, level: Level = "nominal", tolerance: float = 0.5, min_items: int = MIN_ITEMS
) -> pd.DataFrame:
    """Each expert against the consensus of the others (leave one out), item by item.

    The consensus of an item, for one of its experts, is made of the other experts' judgments:
    - nominal: their most frequent value; the expert agrees when they gave it. Where the others
      tie for the most frequent value there is no consensus, and the item does not count;
    - ordinal: their median; interval: their mean. The expert agrees when within `tolerance` of
      it (0.5: on a scale of whole points, their value is the consensus rounded, halves either way).
    An item needs one other judgment at least.

    One row per expert of the frame: `items` (their items with a consensus), `agreed`,
    `agreement` (agreed / items; NaN under `min_items` items) and, for ordinal and interval,
    `mean_distance` (mean absolute distance to the consensus).
    """
    kept = judgments(frame, level=level)
    distance = np.full(len(kept), np.nan)
    if level == "nominal":
        has_consensus, agreed = _against_majority(kept)
    else:
        has_consensus, centre = _against_centre(kept, level)
        distance = np.abs(kept[VALUE].to_numpy() - centre)
        agreed = has_consensus & (distance <= tolerance)
    scored = pd.DataFrame(
        {
            EXPERT: kept[EXPERT].to_numpy(),
            "items": has_consensus,
            "agreed": agreed,
            "distance": np.where(has_consensus, distance, np.nan),
        }
    )
    by_expert = scored.groupby(EXPERT)
    result = by_expert[["items", "agreed"]].sum().astype(int)
    enough = result["items"] >= max(min_items, 1)
    result["agreement"] = (result["agreed"] / result["items"]).where(enough)
    if level != "nominal":
        result["mean_distance"] = by_expert["distance"].mean()
    return result


def _against_majority(kept: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per judgment: whether the item's other judgments have a single most frequent value, and
    whether this judgment is it."""
    items = pd.factorize(kept[ITEM])[0]
    values, domain = pd.factorize(kept[VALUE])
    size = len(domain)
    judged = items.max(initial=-1) + 1
    counts = np.bincount(items * size + values, minlength=judged * size).reshape(judged, size)
    others = counts[items]
    rows = np.arange(len(values))
    others[rows, values] -= 1
    top = others.max(axis=1, initial=0)
    single = (top > 0) & ((others == top[:, np.newaxis]).sum(axis=1) == 1)
    agreed = single & (others[rows, values] == top)
    return single, agreed


def _against_centre(kept: pd.DataFrame, level: Level) -> tuple[np.ndarray, np.ndarray]:
    """Per judgment: whether the item has other judgments, and their median (ordinal) or mean
    (interval), in `kept`'s row order."""
    order = np.lexsort((kept[VALUE].to_numpy(), pd.factorize(kept[ITEM])[0]))
    items = pd.factorize(kept[ITEM])[0][order]
    values = kept[VALUE].to_numpy(dtype=float)[order]
    judged = np.bincount(items)[items]
    others = judged - 1
    if level == "interval":
        totals = np.bincount(items, weights=values)[items]
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = (totals - values) / others
    else:
        # The others' values, in order, are the item's without this one (at `rank`): the j-th of
        # them is the item's j-th before `rank` and its (j + 1)-th from there on.
        start = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])[items]
        rank = np.arange(len(items)) - start

        def other(j: np.ndarray) -> np.ndarray:
            return values[np.clip(start + j + (j >= rank), 0, len(values) - 1)]

        centre = (other((others - 1) // 2) + other(others // 2)) / 2
    has_consensus = others >= 1
    unsorted = np.empty_like(order)
    unsorted[order] = np.arange(len(order))
    return has_consensus[unsorted], np.where(has_consensus, centre, np.nan)[unsorted]


def agreement_figures(
    *,
    choices: pd.DataFrame,
    strengths: pd.DataFrame,
    criteria: dict[str, pd.DataFrame],
    min_items: int = MIN_ITEMS,
) -> dict[str, float | dict[str, float | None] | None]:
    """A project's agreement figures, from `quality.frames`' three kinds of frame: on the choice,
    percent agreement, Fleiss' kappa and nominal alpha; ordinal alpha on the signed strength;
    interval alpha on each rubric criterion."""
    return {
        "percent": percent_agreement(choices, min_items=min_items),
        "fleiss_kappa": fleiss_kappa(choices, min_items=min_items),
        "krippendorff_alpha_nominal": krippendorff_alpha(choices, level="nominal", min_items=min_items),
        "krippendorff_alpha_ordinal_strength": krippendorff_alpha(
            strengths, level="ordinal", min_items=min_items
        ),
        "krippendorff_alpha_interval": {
            key: krippendorff_alpha(frame, level="interval", min_items=min_items)
            for key, frame in criteria.items()
        },
    }
