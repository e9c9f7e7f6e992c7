"""Bias and integrity signals, gold accuracy's interval and the pause rule, against references."""

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from quality import bias


def exact_binomial(k, n, p):
    """The two-sided exact binomial p-value from first principles, in exact arithmetic: the
    probability of every outcome no more likely than k. (Outcomes within a relative 1e-7 of it
    count as equally likely, as in scipy and R, so that rounding does not decide.)"""
    p = Fraction(p)
    mass = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return float(sum(m for m in mass if m <= mass[k] * Fraction(10_000_001, 10_000_000)))


def exact_fisher(table):
    """Fisher's exact two-sided p-value for a 2x2 table, from the hypergeometric law, exactly."""
    (a, b), (c, d) = table
    row, column, n = a + b, a + c, a + b + c + d

    def mass(x):
        return Fraction(math.comb(column, x) * math.comb(n - column, row - x), math.comb(n, row))

    lowest, highest = max(0, row + column - n), min(row, column)
    observed = mass(a)
    tables = [mass(x) for x in range(lowest, highest + 1)]
    return float(sum(m for m in tables if m <= observed * Fraction(10_000_001, 10_000_000)))


@pytest.mark.parametrize("p", [0.5, 0.3, 0.85])
def test_the_binomial_p_value_is_the_exact_two_sided_one(p):
    for n in (1, 2, 7, 20, 61):
        for k in range(n + 1):
            assert bias.binomial_p_value(k, n, p) == pytest.approx(exact_binomial(k, n, p), abs=1e-12)


def test_an_always_left_expert_gets_a_tiny_p_value_and_no_trial_gets_none():
    assert bias.binomial_p_value(20, 20) == pytest.approx(2 / 2**20, rel=1e-12)
    assert bias.binomial_p_value(5, 10) == 1.0
    assert bias.binomial_p_value(0, 0) is None


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
def test_the_wilson_interval_matches_statsmodels(confidence):
    for n in (1, 2, 3, 10, 37, 200):
        for k in range(n + 1):
            low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
            ours = bias.wilson_interval(k, n, confidence=confidence)
            assert ours == pytest.approx((low, high), abs=1e-9)
            assert 0.0 <= ours[0] <= k / n <= ours[1] <= 1.0


def test_the_wilson_interval_is_none_without_trials_and_refuses_impossible_counts():
    assert bias.wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="between 0 and trials"):
        bias.wilson_interval(4, 3)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        bias.wilson_interval(1, 3, confidence=95)


def test_an_expert_is_paused_once_the_upper_bound_falls_below_the_bar_after_gold_min():
    # A random clicker (a quarter right) on the first ten gold items: even the best case misses 70 %.
    assert bias.gold_pause_due(correct=2, answered=10, gold_min=10, bar=0.7)
    # The same record before gold_min is not enough to act on.
    assert not bias.gold_pause_due(correct=2, answered=9, gold_min=10, bar=0.7)
    assert not bias.gold_pause_due(correct=0, answered=0, gold_min=10, bar=0.7)
    # A good expert with an unlucky streak keeps working: 6 of 10 is below 70 %, its bound is not.
    assert not bias.gold_pause_due(correct=6, answered=10, gold_min=10, bar=0.7)


def test_the_pause_rule_asks_for_the_bound_strictly_below_the_bar():
    _, upper = bias.wilson_interval(5, 12)

    assert not bias.gold_pause_due(correct=5, answered=12, gold_min=5, bar=upper)
    assert bias.gold_pause_due(correct=5, answered=12, gold_min=5, bar=upper + 1e-9)
    # A stricter confidence widens the interval, which then reaches the bar again.
    assert not bias.gold_pause_due(correct=5, answered=12, gold_min=5, bar=upper + 1e-9, confidence=0.99)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gold_min": 0, "bar": 0.7}, "gold_min must be at least 1"),
        ({"gold_min": 5, "bar": 70}, "bar must be a share between 0 and 1"),
    ],
)
def test_the_pause_rule_refuses_settings_that_make_no_sense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bias.gold_pause_due(correct=1, answered=5, **kwargs)


def test_gold_accuracy_per_expert_carries_its_interval_and_the_pause_rule():
    gold = pd.DataFrame(
        {
            "expert": ["careless"] * 12 + ["careful"] * 12 + ["new"] * 2,
            "correct": [True] * 3 + [False] * 9 + [True] * 11 + [False] + [False] * 2,
        }
    )

    table = bias.gold_accuracy(gold, gold_min=10, bar=0.7)

    assert table.index.tolist() == ["careful", "careless", "new"]
    assert table["answered"].tolist() == [12, 12, 2]
    assert table["correct"].tolist() == [11, 3, 0]
    assert table["accuracy"].tolist() == pytest.approx([11 / 12, 3 / 12, 0.0])
    for expert, (correct, answered) in {"careful": (11, 12), "careless": (3, 12), "new": (0, 2)}.items():
        interval = (table.loc[expert, "low"], table.loc[expert, "high"])
        assert interval == bias.wilson_interval(correct, answered)
    # Nothing right yet, but too few answers to judge: the newcomer is not paused.
    assert table["pause_due"].tolist() == [False, True, False]
    assert "pause_due" not in bias.gold_accuracy(gold).columns


def test_gold_accuracy_refuses_an_answer_neither_right_nor_wrong():
    with pytest.raises(ValueError, match="`correct` must be true or false"):
        bias.gold_accuracy(pd.DataFrame({"expert": ["x"], "correct": [None]}))


def judgments(expert, choices, shown_left, **columns):
    n = len(choices)
    return pd.DataFrame(
        {
            "expert": [expert] * n,
            "item": [f"item-{i}" for i in range(n)],
            "preference": choices,
            "shown_left": shown_left,
            **columns,
        }
    )


def test_position_bias_counts_the_side_on_screen_not_the_response():
    # A is the item's first response; shown_left says which one was on the left.
    always_left = judgments("lefty", ["a", "b"] * 10, [0, 1] * 10)
    even = judgments("even", ["a", "a", "b", "b", "tie", "both_bad"], [0, 1, 0, 1, 0, 1])
    undecided = judgments("undecided", ["tie", "both_bad", ""], [0, 0, 1])

    table = bias.position_bias(pd.concat([always_left, even, undecided], ignore_index=True))

    assert table.loc["lefty", "sided"] == 20 and table.loc["lefty", "left"] == 20
    assert table.loc["lefty", "left_share"] == 1.0
    assert table.loc["lefty", "left_p_value"] == pytest.approx(exact_binomial(20, 20, 0.5), rel=1e-12)
    assert table.loc["lefty", "left_p_value"] < 0.01
    assert (table.loc["even", "sided"], table.loc["even", "left"]) == (4, 2)
    assert table.loc["even", "left_p_value"] == 1.0
    # No side ever chosen: no share and no test, rather than a share of 0.
    assert table.loc["undecided", "sided"] == 0
    assert pd.isna(table.loc["undecided", "left_share"]) and pd.isna(table.loc["undecided", "left_p_value"])


def test_chose_left_is_missing_where_no_side_was_chosen():
    frame = judgments("x", ["a", "b", "tie", "both_bad", ""], [1, 1, 0, 1, 0])

    assert bias.chose_left(frame).tolist() == [False, True, pd.NA, pd.NA, pd.NA]


def test_length_bias_compares_an_expert_with_the_others_by_fisher_exact_test():
    longer_first = dict(length_a=[900] * 10, length_b=[300] * 10)
    verbose = judgments("verbose", ["a"] * 10, [0] * 10, **longer_first)
    others = judgments("others", ["a", "b"] * 5, [0] * 10, **longer_first)
    same_length = judgments("solo", ["a", "b"], [0, 0], length_a=[50, 50], length_b=[50, 50])

    table = bias.length_bias(pd.concat([verbose, others, same_length], ignore_index=True))

    assert (table.loc["verbose", "compared"], table.loc["verbose", "longer"]) == (10, 10)
    assert table.loc["verbose", "longer_share"] == 1.0
    assert table.loc["verbose", "others_longer_share"] == 0.5
    assert table.loc["verbose", "longer_p_value"] == pytest.approx(exact_fisher([[10, 0], [5, 5]]), abs=1e-12)
    assert table.loc["others", "others_longer_share"] == 1.0
    # Responses as long as each other say nothing about length.
    assert table.loc["solo", "compared"] == 0
    assert pd.isna(table.loc["solo", "longer_share"]) and pd.isna(table.loc["solo", "longer_p_value"])


def test_length_bias_has_no_comparison_without_other_experts():
    alone = judgments("alone", ["a", "b", "a"], [0, 0, 0], length_a=[9, 9, 2], length_b=[1, 1, 8])

    table = bias.length_bias(alone)

    assert table.loc["alone", "longer_share"] == pytest.approx(1 / 3)
    assert pd.isna(table.loc["alone", "others_longer_share"])
    assert pd.isna(table.loc["alone", "longer_p_value"])


def test_speed_is_active_seconds_per_thousand_characters_with_a_floor():
    frame = pd.DataFrame(
        {
            "expert": ["skimmer"] * 3 + ["reader"] * 3 + ["untimed"],
            "active_seconds": [4, 6, 50, 60, 90, 120, 0],
            "chars_read": [2000, 1000, 1000, 1500, 1500, 0, 800],
        }
    )

    rate = bias.seconds_per_1k_chars(frame)
    table = bias.speed(frame, floor=10)

    assert rate.tolist()[:5] == pytest.approx([2.0, 6.0, 50.0, 40.0, 60.0])
    # Nothing to read, or no time recorded: no figure, not a speed of 0.
    assert pd.isna(rate[5]) and pd.isna(rate[6])
    assert bias.too_fast(frame, floor=10).tolist() == [True, True, False, False, False, pd.NA, pd.NA]
    assert table.loc["skimmer", "median_seconds_per_1k_chars"] == 6.0
    assert table.loc["skimmer", "too_fast_share"] == pytest.approx(2 / 3)
    assert bool(table.loc["skimmer", "too_fast"]) and not bool(table.loc["reader", "too_fast"])
    assert table.loc["reader", "timed"] == 2
    assert table.loc["untimed", "timed"] == 0
    assert pd.isna(table.loc["untimed", "median_seconds_per_1k_chars"])
    assert pd.isna(table.loc["untimed", "too_fast"])
    assert "too_fast" not in bias.speed(frame).columns


def test_rationales_repeated_across_items_are_found_after_normalising():
    frame = pd.DataFrame(
        {
            "expert": ["copier", "copier", "copier", "writer", "writer"],
            "item": ["i1", "i2", "i3", "i1", "i2"],
            "rationale": ["Clear, concise.", "clear   CONCISE", "", "Clear, concise.", "Wrong year."],
        }
    )

    repeated = bias.rationale_repeated(frame)

    assert repeated.tolist() == [True, True, pd.NA, False, False]
    fullwidth_c = "\uff23"  # NFKC makes it a plain C
    assert bias.normalised_rationale(pd.Series([f"  {fullwidth_c}lear,\tconcise!! "]))[0] == "clear concise"


def test_pasted_share_and_short_rationales_against_the_project_median():
    frame = pd.DataFrame(
        {
            "expert": ["paster", "paster", "brief", "brief", "quiet"],
            "item": ["i1", "i2", "i1", "i2", "i1"],
            "rationale": [
                "B gets the dosage right and says why.",
                "A skips the second step of the proof.",
                "ok",
                "B is right: the statute was amended in 2019.",
                "",
            ],
            # More pasted than kept (pasted, then cut back) counts as all of it.
            "pasted_chars": [37, 500, 0, 0, 0],
        }
    )

    shares = bias.paste_share(frame)
    short = bias.rationale_short(frame)
    table = bias.rationale_integrity(frame)

    assert shares.tolist()[:4] == pytest.approx([1.0, 1.0, 0.0, 0.0])
    assert pd.isna(shares[4])
    assert short.tolist() == [False, False, True, False, pd.NA]
    assert table.loc["paster", "paste_share"] == 1.0
    assert table.loc["brief", "short_share"] == 0.5
    assert table.loc["brief", "repeated_share"] == 0.0
    assert table.loc["quiet", "rationales"] == 0
    assert table.loc[["quiet"], ["paste_share", "repeated_share", "short_share"]].isna().all(axis=None)


def test_pasted_characters_count_within_every_rationale_when_the_frame_gives_their_length():
    """A rubric judgment's criterion notes are rationales too: `rationale_chars` holds them all."""
    frame = pd.DataFrame(
        {
            "expert": ["rater", "rater", "rater"],
            "item": ["i1", "i2", "i3"],
            "rationale": ["Fine.", "", ""],
            "rationale_chars": [20, 10, 0],  # "Fine." and 15 characters of notes; notes only; none
            "pasted_chars": [5, 10, 0],
        }
    )
    assert bias.paste_share(frame).tolist()[:2] == pytest.approx([0.25, 1.0])
    assert pd.isna(bias.paste_share(frame)[2])
    assert bias.rationale_integrity(frame).loc["rater", "paste_share"] == pytest.approx(15 / 30)


FULL = pd.DataFrame(
    {
        "expert": ["x", "x", "y"],
        "item": ["i1", "i2", "i1"],
        "preference": ["a", "tie", "b"],
        "shown_left": [0, 1, 0],
        "length_a": [100, 80, 100],
        "length_b": [50, 80, 50],
        "active_seconds": [30, 0, 12],
        "chars_read": [1500, 1200, 1500],
        "rationale": ["A is right.", "", "B cites a source."],
        "pasted_chars": [0, 0, 17],
    },
    index=[10, 11, 12],
)


def test_per_annotation_signals_keep_the_rows_and_one_type_per_column():
    signals = bias.annotation_signals(FULL, floor=10)

    assert signals.index.tolist() == [10, 11, 12]
    assert signals.dtypes.astype(str).to_dict() == {
        "chose_left": "boolean",
        "chose_longer": "boolean",
        "seconds_per_1k_chars": "Float64",
        "too_fast": "boolean",
        "paste_share": "Float64",
        "rationale_repeated": "boolean",
        "rationale_short": "boolean",
    }
    assert signals.loc[12, "paste_share"] == 1.0
    assert signals.loc[11].isna().all()


def test_records_give_none_for_missing_figures_and_plain_python_values():
    rows = bias.records(bias.expert_signals(FULL, floor=10), index="expert")

    x, y = rows
    assert x["expert"] == "x" and x["sided"] == 1 and x["left_share"] == 1.0
    assert y["others_longer_share"] == 1.0 and y["longer_share"] == 0.0
    assert x["median_seconds_per_1k_chars"] == 20.0
    assert type(x["sided"]) is int and type(x["too_fast"]) is bool
    # An expert with no rationale: the figures with nothing under them are None.
    assert bias.records(bias.rationale_integrity(FULL.iloc[[1]]))[0] == {
        "rationales": 0,
        "paste_share": None,
        "repeated_share": None,
        "short_share": None,
    }
    assert json.loads(json.dumps(rows)) == rows


def test_no_annotations_give_empty_tables():
    empty = FULL.iloc[0:0]

    assert bias.expert_signals(empty, floor=10).empty
    assert bias.annotation_signals(empty, floor=10).empty
    assert bias.gold_accuracy(pd.DataFrame({"expert": [], "correct": []})).empty


@pytest.mark.parametrize(
    ("function", "missing"),
    [
        (bias.position_bias, "shown_left"),
        (bias.length_bias, "length_b"),
        (bias.speed, "chars_read"),
        (bias.rationale_integrity, "pasted_chars"),
    ],
)
def test_a_missing_column_is_named(function, missing):
    with pytest.raises(ValueError, match=f"missing column\\(s\\) {missing}"):
        function(FULL.drop(columns=[missing]))


def test_the_always_left_expert_stands_out_among_simulated_careful_ones():
    rng = np.random.default_rng(11)
    frames = []
    for e in range(6):
        shown = rng.integers(0, 2, 60)
        frames.append(judgments(f"careful-{e}", rng.choice(["a", "b"], 60).tolist(), shown))
    shown = rng.integers(0, 2, 60)
    frames.append(judgments("lefty", np.where(shown == 0, "a", "b").tolist(), shown))

    table = bias.position_bias(pd.concat(frames, ignore_index=True))

    assert table.loc["lefty", "left_p_value"] < 0.01
    assert (table.drop(index="lefty")["left_p_value"] > 0.01).all()
