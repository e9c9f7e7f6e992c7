"""Dawid-Skene and majority consensus on the choice, checked against crowd-kit and on simulated experts."""

import warnings

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from quality.consensus import CHOICES, dawid_skene, majority_vote

TRUTH_SHARES = [0.4, 0.4, 0.12, 0.08]  # a, b, tie, both_bad


def simulate(kinds, *, n_items, coverage, seed):
    """Judgments by simulated experts, and the truth they were drawn from.

    `kinds` lists the experts: ("good", accuracy) says the truth with that probability and another
    choice otherwise; ("spammer",) picks uniformly; ("always", choice) says the same thing every time;
    ("swapper", accuracy) is a good expert who mixes up A and B.
    """
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(CHOICES), size=n_items, p=TRUTH_SHARES)
    rows = []
    for e, kind in enumerate(kinds):
        for i in np.flatnonzero(rng.random(n_items) < coverage):
            t = truth[i]
            if kind[0] in ("good", "swapper"):
                said = t if rng.random() < kind[1] else rng.choice([c for c in range(4) if c != t])
                if kind[0] == "swapper" and said < 2:
                    said = 1 - said
            elif kind[0] == "spammer":
                said = rng.integers(4)
            else:
                said = CHOICES.index(kind[1])
            rows.append((f"item-{i:04d}", f"expert-{e}", CHOICES[said]))
    items = [f"item-{i:04d}" for i in range(n_items)]
    return (
        pd.DataFrame(rows, columns=["item", "expert", "label"]),
        pd.Series(np.array(CHOICES)[truth], index=items, dtype=object),
    )


CROWD = [("good", 0.8)] * 5 + [("spammer",)] * 2 + [("always", "a")]


def crowd_kit(judgments, gold, n_iter):
    data = judgments.rename(columns={"item": "task", "expert": "worker"})
    with warnings.catch_warnings():
        # crowd-kit 1.4 uses pandas keywords that pandas 3 deprecates.
        warnings.simplefilter("ignore")
        # tol=-inf: run exactly n_iter iterations, like ours below (its own stopping rule, on the
        # evidence lower bound, sometimes stops after a handful).
        return DawidSkene(n_iter=n_iter, tol=-np.inf).fit(data, gold)


@pytest.mark.parametrize("with_gold", [False, True], ids=["without gold", "with gold"])
def test_it_agrees_with_crowd_kit_on_simulated_experts(with_gold):
    judgments, truth = simulate(CROWD, n_items=150, coverage=0.7, seed=1)
    gold = truth.iloc[::10] if with_gold else None
    # crowd-kit has no prior: it clips probabilities at 1e-10 where we add pseudo-counts, which
    # comes to the same when they are as small and every expert has some weight under every truth.
    ours = dawid_skene(judgments, gold=gold, smoothing=1e-10, credit=0, tol=1e-300, max_iter=60)
    theirs = crowd_kit(judgments, gold, n_iter=60)

    assert ours.iterations == 60
    posterior = theirs.probas_.reindex(index=ours.posterior.index, columns=ours.posterior.columns)
    assert np.abs(posterior.to_numpy() - ours.posterior.to_numpy()).max() < 1e-8
    assert (theirs.labels_.reindex(ours.items.index) == ours.items["label"]).all()
    said = theirs.errors_.stack().rename_axis(["expert", "said", "truth"]).rename("p")
    ours_said = ours.confusion.stack().rename_axis(["expert", "truth", "said"]).rename("p")
    joined = said.reset_index().merge(ours_said.reset_index(), on=["expert", "said", "truth"])
    assert len(joined) == len(said)
    assert np.abs(joined["p_x"] - joined["p_y"]).max() < 1e-8
    assert np.abs(theirs.priors_.reindex(ours.prior.index) - ours.prior).max() < 1e-8


def majority_accuracy(judgments, truth):
    """Majority's accuracy with ties broken at random (in expectation), the fairest reading of it."""
    votes = pd.crosstab(judgments["item"], judgments["label"]).reindex(columns=list(CHOICES), fill_value=0)
    leaders = votes.eq(votes.max(axis=1), axis=0)
    right = leaders.to_numpy()[np.arange(len(votes)), [CHOICES.index(t) for t in truth[votes.index]]]
    return float((right / leaders.sum(axis=1).to_numpy()).mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_beats_majority_when_spammers_are_in(seed):
    kinds = [("good", 0.8)] * 6 + [("spammer",)] * 2 + [("always", "a")]
    judgments, truth = simulate(kinds, n_items=400, coverage=0.5, seed=seed)

    consensus = dawid_skene(judgments)

    accuracy = (consensus.items["label"] == truth[consensus.items.index]).mean()
    assert accuracy >= majority_accuracy(judgments, truth) + 0.03


def test_it_learns_that_spammers_and_a_constant_expert_say_nothing():
    judgments, _ = simulate(CROWD, n_items=400, coverage=0.7, seed=4)

    confusion = dawid_skene(judgments).confusion

    good = confusion.loc["expert-0"].to_numpy()
    assert np.diag(good).min() > 0.6
    # Whatever the truth, the spammer's answers are spread alike and the constant expert says "a".
    spammer = confusion.loc["expert-5"].to_numpy()
    assert np.abs(spammer - spammer.mean(axis=0)).max() < 0.15
    assert (confusion.loc["expert-7"]["a"] > 0.9).all()


def test_gold_answers_decide_between_two_camps_of_equal_size():
    kinds = [("swapper", 0.85)] * 2 + [("good", 0.85)] * 2
    judgments, truth = simulate(kinds, n_items=200, coverage=1.0, seed=3)

    consensus = dawid_skene(judgments, gold=truth.iloc[::10])

    assert (consensus.items["label"] == truth[consensus.items.index]).mean() > 0.9
    # The swappers are seen for what they are: they say B when the truth is A.
    assert consensus.confusion.loc[("expert-0", "a"), "b"] > 0.6


def test_a_gold_answer_stays_certain_whatever_the_experts_say():
    judgments = pd.DataFrame(
        {
            "item": ["gold", "gold", "gold", "x", "x", "y", "y"],
            "expert": ["e1", "e2", "e3", "e1", "e2", "e2", "e3"],
            "label": ["a", "a", "a", "a", "b", "b", "b"],
        }
    )

    consensus = dawid_skene(judgments, gold={"gold": "b", "never judged": "tie"})

    assert consensus.posterior.loc["gold"].to_dict() == {"a": 0.0, "b": 1.0, "tie": 0.0}
    assert consensus.items.loc["gold", "label"] == "b"
    assert consensus.items.loc["gold", "confidence"] == 1.0
    assert consensus.items["gold"].to_dict() == {"gold": True, "x": False, "y": False}
    # The gold answer's choice is among the columns though nobody chose it on a judged item.
    assert list(consensus.posterior.columns) == ["a", "b", "tie"]


def test_an_expert_with_one_label_is_trusted_less_than_an_established_one():
    judgments, _ = simulate([("good", 0.8)] * 5, n_items=200, coverage=0.8, seed=5)
    alone = pd.DataFrame(
        {"item": ["newcomer's", "veteran's"], "expert": ["newcomer", "expert-0"], "label": ["b", "b"]}
    )

    consensus = dawid_skene(pd.concat([judgments, alone], ignore_index=True))

    # A record of one label says little: the newcomer's matrix stays near the prior's.
    newcomer = np.diag(consensus.confusion.loc["newcomer"])
    assert newcomer.max() < 0.75
    assert np.diag(consensus.confusion.loc["expert-0"]).min() > newcomer.max()
    # An item with a single label still gets a proper posterior, and follows its one judgment.
    for item in ("newcomer's", "veteran's"):
        assert consensus.posterior.loc[item].sum() == pytest.approx(1.0)
        assert consensus.items.loc[item, "label"] == "b"
        assert consensus.items.loc[item, "n_labels"] == 1
    confidence = consensus.items["confidence"]
    assert 0.25 < confidence["newcomer's"] < confidence["veteran's"] < 1.0


def test_it_is_deterministic_whatever_the_row_order():
    judgments, truth = simulate(CROWD, n_items=100, coverage=0.7, seed=6)
    shuffled = judgments.sample(frac=1.0, random_state=7)

    first = dawid_skene(judgments, gold=truth.iloc[::10])
    again = dawid_skene(shuffled, gold=truth.iloc[::10])

    pd.testing.assert_frame_equal(first.posterior, again.posterior, check_exact=True)
    pd.testing.assert_frame_equal(first.items, again.items, check_exact=True)
    pd.testing.assert_frame_equal(first.confusion, again.confusion, check_exact=True)
    assert first.iterations == again.iterations


def test_it_stops_at_the_tolerance_or_the_iteration_limit():
    judgments, _ = simulate(CROWD, n_items=150, coverage=0.7, seed=8)

    limited = dawid_skene(judgments, max_iter=2)
    loose = dawid_skene(judgments, tol=1e-2)
    tight = dawid_skene(judgments, tol=1e-8, max_iter=1000)

    assert (limited.iterations, limited.converged) == (2, False)
    assert loose.converged and tight.converged
    assert 1 <= loose.iterations < tight.iterations < 1000


def test_no_judgments_give_empty_results_not_zeros():
    empty = pd.DataFrame({"item": [], "expert": [], "label": []})

    consensus = dawid_skene(empty)

    assert consensus.posterior.empty and consensus.items.empty and consensus.confusion.empty
    assert majority_vote(empty).empty


@pytest.mark.parametrize(
    ("judgments", "kwargs", "message"),
    [
        (pd.DataFrame({"item": [1], "label": ["a"]}), {}, "missing column(s) expert"),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["A"]}), {}, "unknown choice(s) ['A']"),
        (pd.DataFrame({"item": [1], "expert": [None], "label": ["a"]}), {}, "row 0 has an empty"),
        (
            pd.DataFrame({"item": [1, 1], "expert": ["e", "e"], "label": ["a", "b"]}),
            {},
            "expert 'e' judged item 1 more than once",
        ),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["a"]}), {"gold": {1: "c"}}, "unknown choice(s)"),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["a"]}), {"gold": {1: None}}, "have no answer"),
        (
            pd.DataFrame({"item": [1], "expert": [1], "label": ["tie"]}),
            {"labels": ["a", "b"]},
            "choice(s) ['tie'] are not among the labels",
        ),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["a"]}), {"smoothing": 0}, "smoothing must be"),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["a"]}), {"credit": -1}, "credit must be"),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["a"]}), {"tol": 0}, "tol must be"),
        (pd.DataFrame({"item": [1], "expert": [1], "label": ["a"]}), {"max_iter": 0}, "max_iter must be"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(judgments, kwargs, message):
    with pytest.raises(ValueError) as refused:
        dawid_skene(judgments, **kwargs)
    assert message in str(refused.value)


def test_majority_names_the_leading_choice_and_none_on_a_tie():
    judgments = pd.DataFrame(
        {
            "item": ["x", "x", "x", "y", "y", "z"],
            "expert": ["e1", "e2", "e3", "e1", "e2", "e1"],
            "label": ["a", "b", "a", "tie", "both_bad", "b"],
        }
    )

    majority = majority_vote(judgments)

    assert majority["label"].to_dict() == {"x": "a", "y": None, "z": "b"}
    assert majority["votes"].to_dict() == {"x": 2, "y": 1, "z": 1}
    assert majority["n_labels"].to_dict() == {"x": 3, "y": 2, "z": 1}
    assert majority["share"].to_dict() == pytest.approx({"x": 2 / 3, "y": 0.5, "z": 1.0})


def test_a_hundred_thousand_judgments_run_every_iteration():
    # How long it takes is benchmarks/quality_bench.py's to say.
    rng = np.random.default_rng(9)
    n = 100_000
    judgments = pd.DataFrame(
        {
            "item": rng.permutation(n) // 5,  # 20,000 items, five judgments each
            "expert": rng.integers(0, 300, n),
            "label": rng.choice(CHOICES, n),
        }
    ).drop_duplicates(["item", "expert"])

    consensus = dawid_skene(judgments, tol=1e-300)  # all 100 iterations: the slowest case

    assert consensus.iterations == 100
    assert len(consensus.items) == judgments["item"].nunique()
