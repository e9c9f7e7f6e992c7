"""The agreement statistics against reference implementations, by-hand cases and plain loops.

Random judgments are seeded; not every expert judges every item, and some rows carry a missing
value, as a frame built from real labels may.
"""

import statistics
from collections import Counter
from itertools import combinations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from quality import agreement
from quality.agreement import (
    MIN_ITEMS,
    cohen_kappa,
    coincidences,
    expert_consensus,
    fleiss_kappa,
    item_agreement,
    krippendorff_alpha,
    pairwise_agreement,
    percent_agreement,
)

CHOICES = ["a", "b", "tie", "both_bad"]
STRENGTHS = [-3, -2, -1, 0, 1, 2, 3]
SCORES = [1, 2, 3, 4, 5]
SCALES = {"nominal": CHOICES, "ordinal": STRENGTHS, "interval": SCORES}
# (seed, items, experts): a handful of items to a project's worth.
SIZES = [(1, 12, 3), (2, 60, 5), (3, 400, 9), (4, 2500, 30)]
TOLERANCE = 1e-9


def simulated(
    seed: int, items: int, experts: int, scale: list, *, per_item: int | None = None
) -> pd.DataFrame:
    """Judgments of `items` by some of `experts` (each with chance 1/2, or exactly `per_item` of
    them), right (the item's hidden value) two times in three, else anything on the scale; one row
    in twenty is a missing value."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(np.array(scale, dtype=object), size=items)
    rows = []
    for item in range(items):
        chosen = (
            rng.choice(experts, size=per_item, replace=False)
            if per_item
            else np.flatnonzero(rng.random(experts) < 0.5)
        )
        for expert in chosen:
            value = truth[item] if rng.random() < 2 / 3 else scale[rng.integers(len(scale))]
            rows.append((f"item-{item}", 100 + int(expert), None if rng.random() < 0.05 else value))
    return pd.DataFrame(rows, columns=["item", "expert", "value"])


def reliability_data(frame: pd.DataFrame, level: str) -> np.ndarray:
    """`frame` as krippendorff.alpha reads it: experts x items, NaN where missing, nominal labels
    as numbers of their own."""
    if level == "nominal":
        codes = {value: float(code) for code, value in enumerate(CHOICES)}
        values = frame["value"].map(lambda value: codes.get(value, np.nan))
    else:
        values = pd.to_numeric(frame["value"])
    wide = frame.assign(value=values).pivot(index="expert", columns="item", values="value")
    return wide.to_numpy(dtype=float)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize(("seed", "items", "experts"), SIZES)
def test_krippendorffs_alpha_matches_the_reference_at_each_level(level, seed, items, experts):
    frame = simulated(seed, items, experts, SCALES[level])
    expected = krippendorff.alpha(reliability_data=reliability_data(frame, level), level_of_measurement=level)
    assert krippendorff_alpha(frame, level=level, min_items=1) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize("level", ["ordinal", "interval"])
def test_krippendorffs_alpha_takes_fractional_and_negative_numbers(level):
    scale = [-2.5, -0.5, 0.0, 1.25, 4.0]
    frame = simulated(5, 300, 6, scale)
    expected = krippendorff.alpha(reliability_data=reliability_data(frame, level), level_of_measurement=level)
    assert krippendorff_alpha(frame, level=level, min_items=1) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize(("seed", "items", "experts"), SIZES)
def test_cohens_kappa_of_every_pair_matches_scikit_learn(seed, items, experts):
    frame = simulated(seed, items, experts, CHOICES)
    table = pairwise_agreement(frame, min_items=1)
    judged = frame.dropna(subset=["value"])
    sharing = {
        pair for _, group in judged.groupby("item") for pair in combinations(sorted(group["expert"]), 2)
    }
    assert set(zip(table["first"], table["second"], strict=True)) == sharing
    wide = judged.pivot(index="item", columns="expert", values="value")
    for row in table.iloc[:: max(1, len(table) // 100)].itertuples():  # a hundred pairs at most
        shared = wide[[row.first, row.second]].dropna()
        assert row.shared == len(shared)
        assert row.percent == pytest.approx((shared[row.first] == shared[row.second]).mean(), abs=TOLERANCE)
        expected = cohen_kappa_score(shared[row.first], shared[row.second], replace_undefined_by=np.nan)
        if np.isnan(expected):
            assert np.isnan(row.cohen_kappa)
        else:
            assert row.cohen_kappa == pytest.approx(expected, abs=TOLERANCE)
        if row.Index % 10 == 0:  # the one-pair function agrees with the table
            alone = cohen_kappa(frame, row.first, row.second, min_items=1)
            assert alone is None if np.isnan(expected) else alone == pytest.approx(expected, abs=TOLERANCE)


def test_pairs_with_fewer_shared_items_than_asked_are_left_out():
    frame = simulated(6, 80, 10, CHOICES)
    everyone = pairwise_agreement(frame, min_items=1)
    enough = pairwise_agreement(frame, min_items=20)
    assert 0 < len(enough) < len(everyone)
    assert (enough["shared"] >= 20).all()
    assert len(enough) == (everyone["shared"] >= 20).sum()


@pytest.mark.parametrize("per_item", [2, 3, 6])
@pytest.mark.parametrize(("seed", "items", "experts"), SIZES[1:])
def test_fleiss_kappa_matches_statsmodels_when_every_item_has_as_many_experts(seed, items, experts, per_item):
    frame = simulated(seed, items, max(experts, per_item), CHOICES, per_item=per_item).dropna()
    counts = frame.groupby("item").size()
    frame = frame[frame["item"].map(counts) == per_item]  # the missing values made some items short
    table = frame.groupby(["item", "value"]).size().unstack(fill_value=0).to_numpy()
    expected = statsmodels_fleiss_kappa(table, method="fleiss")
    assert fleiss_kappa(frame, min_items=1) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.parametrize(("seed", "items", "experts"), SIZES)
def test_fleiss_kappa_with_varying_numbers_of_experts_is_the_mean_item_agreement_against_pooled_chance(
    seed, items, experts
):
    frame = simulated(seed, items, experts, CHOICES).dropna()
    judged = [list(group["value"]) for _, group in frame.groupby("item") if len(group) >= 2]
    observed = statistics.mean(
        sum(n * (n - 1) for n in Counter(values).values()) / (len(values) * (len(values) - 1))
        for values in judged
    )
    pooled = Counter(value for values in judged for value in values)
    total = sum(pooled.values())
    chance = sum((n / total) ** 2 for n in pooled.values())
    assert fleiss_kappa(frame, min_items=1) == pytest.approx(
        (observed - chance) / (1 - chance), abs=TOLERANCE
    )


@pytest.mark.parametrize(("seed", "items", "experts"), SIZES)
def test_percent_agreement_is_the_share_of_agreeing_pairs_of_judgments(seed, items, experts):
    frame = simulated(seed, items, experts, CHOICES).dropna()
    pairs = {
        item: [first == second for first, second in combinations(group["value"], 2)]
        for item, group in frame.groupby("item")
        if len(group) >= 2
    }
    everything = [agreed for item_pairs in pairs.values() for agreed in item_pairs]
    assert percent_agreement(frame, min_items=1) == pytest.approx(statistics.mean(everything), abs=TOLERANCE)
    per_item = item_agreement(frame)
    assert set(per_item.index) == set(pairs)
    for item, item_pairs in pairs.items():
        assert per_item[item] == pytest.approx(statistics.mean(item_pairs), abs=TOLERANCE)


def consensus_by_loops(frame: pd.DataFrame, level: str, tolerance: float = 0.5) -> dict:
    """{expert: (items, agreed, mean distance)}, item by item and judgment by judgment."""
    found: dict = {}
    for _, group in frame.dropna().groupby("item"):
        judged = list(zip(group["expert"], group["value"], strict=True))
        for expert, value in judged:
            others = [other for someone, other in judged if someone != expert]
            items, agreed, distances = found.setdefault(expert, [0, 0, []])
            if level == "nominal":
                ranked = Counter(others).most_common()
                if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
                    continue
                found[expert] = [items + 1, agreed + (value == ranked[0][0]), distances]
            elif others:
                centre = statistics.median(others) if level == "ordinal" else statistics.mean(others)
                distance = abs(value - centre)
                found[expert] = [items + 1, agreed + (distance <= tolerance), [*distances, distance]]
    return {
        expert: (items, agreed, statistics.mean(distances) if distances else None)
        for expert, (items, agreed, distances) in found.items()
    }


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize(("seed", "items", "experts"), SIZES[:3])
def test_each_expert_against_the_consensus_of_the_others_item_by_item(level, seed, items, experts):
    frame = simulated(seed, items, experts, SCALES[level])
    table = expert_consensus(frame, level=level, min_items=1)
    expected = consensus_by_loops(frame, level)
    assert set(table.index) == set(expected)
    for expert, (items_counted, agreed, distance) in expected.items():
        row = table.loc[expert]
        assert (row["items"], row["agreed"]) == (items_counted, agreed)
        if items_counted:
            assert row["agreement"] == pytest.approx(agreed / items_counted, abs=TOLERANCE)
        else:
            assert np.isnan(row["agreement"])
        if level != "nominal" and distance is not None:
            assert row["mean_distance"] == pytest.approx(distance, abs=TOLERANCE)


# By hand, or from the literature.


def frame_of(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "expert", "value"])


def test_cohens_kappa_of_the_textbook_example_is_0_4():
    # Two readers of 50 applications: 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    frame = frame_of(
        [(n, "first", first) for n, (first, _) in enumerate(pairs)]
        + [(n, "second", second) for n, (_, second) in enumerate(pairs)]
    )
    assert cohen_kappa(frame, "first", "second") == pytest.approx(0.4, abs=TOLERANCE)
    (row,) = pairwise_agreement(frame).itertuples()
    assert (row.first, row.second, row.shared, row.percent) == ("first", "second", 50, 0.7)
    assert row.cohen_kappa == pytest.approx(0.4, abs=TOLERANCE)


def test_fleiss_kappa_of_fleiss_worked_example_is_0_210():
    # 10 subjects, 14 raters, 5 categories (the example of Wikipedia's article on Fleiss' kappa).
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    rows = []
    for subject, row in enumerate(counts):
        values = [category for category, n in enumerate(row) for _ in range(n)]
        rows += [(subject, rater, value) for rater, value in enumerate(values)]
    assert round(fleiss_kappa(frame_of(rows)), 3) == 0.210


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorffs_alpha_of_his_worked_example(level, expected):
    # Krippendorff, "Computing Krippendorff's alpha-reliability" (2011): 4 observers, 12 units.
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    frame = frame_of(
        [(unit, observer, value) for observer, row in enumerate(observers) for unit, value in enumerate(row)]
    )
    assert round(krippendorff_alpha(frame, level=level, min_items=1), 3) == expected
    # Unit 12 has one value: it has no pairs, and the matrix counts 40 pairable values.
    assert coincidences(frame, level=level).to_numpy().sum() == pytest.approx(40)


def test_percent_agreement_by_hand():
    frame = frame_of(
        [(1, "x", "a"), (1, "y", "a"), (1, "z", "b"), (2, "x", "tie"), (2, "y", "tie"), (3, "x", "b")]
    )
    # Item 1: 1 agreeing pair of 3; item 2: 1 of 1; item 3 is judged once and has no pair.
    assert percent_agreement(frame, min_items=2) == pytest.approx(2 / 4)
    assert item_agreement(frame).to_dict() == pytest.approx({1: 1 / 3, 2: 1.0})


def test_the_majority_of_the_others_by_hand():
    frame = frame_of(
        [
            *[(1, expert, value) for expert, value in zip("wxyz", "aaab", strict=True)],
            *[(2, expert, value) for expert, value in zip("wxyz", "bbab", strict=True)],
            # The others of each expert tie here: nobody has a consensus to agree with.
            *[(3, expert, value) for expert, value in zip("wxy", ["a", "b", "tie"], strict=True)],
        ]
    )
    table = expert_consensus(frame, min_items=1)
    assert table[["items", "agreed"]].to_dict("index") == {
        "w": {"items": 2, "agreed": 2},
        "x": {"items": 2, "agreed": 2},
        "y": {"items": 2, "agreed": 1},  # item 2: the others all say b
        "z": {"items": 2, "agreed": 1},  # item 1: the others all say a
    }
    assert table["agreement"].to_dict() == {"w": 1.0, "x": 1.0, "y": 0.5, "z": 0.5}


def test_the_median_and_the_mean_of_the_others_by_hand():
    frame = frame_of([(1, "x", -3), (1, "y", -2), (1, "z", 1), (2, "x", 2), (2, "y", 2), (2, "z", 3)])
    ordinal = expert_consensus(frame, level="ordinal", min_items=1)
    # x: medians -0.5 (off by 2.5) and 2.5 (by 0.5, within); y: -1 (by 1) and 2.5; z: -2.5 and 2.
    assert ordinal.to_dict("index") == {
        "x": {"items": 2, "agreed": 1, "agreement": 0.5, "mean_distance": 1.5},
        "y": {"items": 2, "agreed": 1, "agreement": 0.5, "mean_distance": 0.75},
        "z": {"items": 2, "agreed": 0, "agreement": 0.0, "mean_distance": 2.25},
    }
    frame = frame_of([(1, "x", 1), (1, "y", 2), (1, "z", 4)])
    interval = expert_consensus(frame, level="interval", min_items=1, tolerance=1)
    # The others' means: 3 for x, 2.5 for y, 1.5 for z.
    assert interval["mean_distance"].to_dict() == {"x": 2.0, "y": 0.5, "z": 2.5}
    assert interval["agreed"].to_dict() == {"x": 0, "y": 1, "z": 0}


# Too little data: None, never a 0.


def two_experts(items: int, first: list, second: list) -> pd.DataFrame:
    return frame_of(
        [(n, "x", first[n % len(first)]) for n in range(items)]
        + [(n, "y", second[n % len(second)]) for n in range(items)]
    )


def test_every_figure_needs_enough_items_judged_twice():
    short = two_experts(MIN_ITEMS - 1, ["a", "b", "tie"], ["a", "b", "b"])
    enough = two_experts(MIN_ITEMS, ["a", "b", "tie"], ["a", "b", "b"])
    figures = [
        lambda frame: percent_agreement(frame),
        lambda frame: fleiss_kappa(frame),
        lambda frame: cohen_kappa(frame, "x", "y"),
        lambda frame: krippendorff_alpha(frame, level="nominal"),
    ]
    for figure in figures:
        assert figure(short) is None
        assert isinstance(figure(enough), float)
    assert pairwise_agreement(short).empty and len(pairwise_agreement(enough)) == 1
    assert expert_consensus(short)["agreement"].isna().all()
    assert expert_consensus(enough)["agreement"].notna().all()


def test_items_judged_once_do_not_count_towards_enough():
    frame = two_experts(MIN_ITEMS - 1, ["a", "b"], ["a", "a"])
    lonely = frame_of([(1000 + n, "x", "a") for n in range(50)])
    combined = pd.concat([frame, lonely], ignore_index=True)
    assert percent_agreement(combined) is None
    assert krippendorff_alpha(combined, level="nominal") is None
    assert expert_consensus(combined)["items"].to_dict() == {"x": MIN_ITEMS - 1, "y": MIN_ITEMS - 1}


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_chance_corrected_figures_are_none_when_everyone_gave_one_value(level):
    frame = simulated(7, 100, 6, [2.5])
    assert krippendorff_alpha(frame, level=level) is None
    if level == "nominal":
        assert fleiss_kappa(frame) is None
        assert percent_agreement(frame) == 1.0
        pair = pairwise_agreement(frame).iloc[0]
        assert pair["percent"] == 1.0 and np.isnan(pair["cohen_kappa"])
        assert cohen_kappa(frame, pair["first"], pair["second"]) is None


def test_experts_who_share_no_item_have_no_kappa():
    frame = frame_of([(n, "x", "a") for n in range(20)] + [(n + 20, "y", "b") for n in range(20)])
    assert cohen_kappa(frame, "x", "y") is None
    assert cohen_kappa(frame, "x", "nobody") is None
    assert pairwise_agreement(frame).empty


def test_an_empty_frame_has_no_figures():
    frame = frame_of([])
    figures = agreement.agreement_figures(choices=frame, strengths=frame, criteria={"honesty": frame})
    assert figures == {
        "percent": None,
        "fleiss_kappa": None,
        "krippendorff_alpha_nominal": None,
        "krippendorff_alpha_ordinal_strength": None,
        "krippendorff_alpha_interval": {"honesty": None},
    }
    assert expert_consensus(frame).empty and pairwise_agreement(frame).empty and item_agreement(frame).empty


def test_missing_values_are_no_judgments():
    frame = two_experts(MIN_ITEMS, ["a", "b"], ["a", "b"])
    with_gaps = pd.concat(
        [frame, frame_of([(n, "z", None) for n in range(MIN_ITEMS)] + [(99, "x", np.nan), (99, "y", None)])],
        ignore_index=True,
    )
    assert krippendorff_alpha(with_gaps, level="nominal") == krippendorff_alpha(frame, level="nominal") == 1.0
    assert pairwise_agreement(with_gaps).equals(pairwise_agreement(frame))
    assert "z" not in expert_consensus(with_gaps).index


# Input that is no judgment frame is refused, saying what is wrong.


@pytest.mark.parametrize(
    ("frame", "level", "message"),
    [
        (frame_of([(1, "x", "a"), (1, "x", "b")]), "nominal", "Expert x judged item 1 twice"),
        (pd.DataFrame({"item": [1], "value": ["a"]}), "nominal", "lacks ['expert']"),
        (frame_of([(1, "x", 2), (1, "y", "much")]), "ordinal", "expert y gave item 1 'much'"),
        (frame_of([(1, "x", 2)]), "ratio", "Unknown level of measurement 'ratio'"),
    ],
)
def test_a_frame_that_is_no_judgment_frame_is_refused(frame, level, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        krippendorff_alpha(frame, level=level)


def test_cohens_kappa_of_an_expert_with_themself_is_refused():
    with pytest.raises(ValueError, match="compares two experts"):
        cohen_kappa(frame_of([(1, "x", "a")]), "x", "x")
