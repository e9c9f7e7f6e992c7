"""Skill-aware consensus on the choice: Dawid-Skene, and the plain majority it is measured against.

Both read a long frame of judgments, one row per (item, expert), with the columns `item`, `expert`
and `label` (a choice from `projects.vocabulary.Preference`: "a", "b", "tie", "both_bad").

Dawid-Skene (Dawid & Skene, 1979) treats each item's true choice as hidden and each expert as a
confusion matrix, "when the truth is c, this expert says k with probability π[c, k]", and fits both
by expectation-maximisation: the E-step weighs every expert's vote by their matrix to give each item
a posterior over the choices, the M-step re-estimates the matrices (and the prior share of each
choice) from those posteriors. An expert who agrees with the others only by chance, or always says
"a", ends up with rows that carry no information and so stops moving the posteriors; majority voting
counts them like everyone else.

The estimates start from each item's vote shares (as crowd-kit's `DawidSkene` does, which the tests
hold this implementation to). Gold answers are known truths: their items start, and stay, certain,
so every expert's matrix is anchored on them. Each matrix also starts from pseudo-counts, a
Dirichlet prior: `smoothing` in every cell, so that no probability is ever exactly 0 (one vote would
then veto a choice whatever everyone else said), and `credit` more on the diagonal, the benefit of
the doubt a vetted expert starts with. An expert with a handful of labels keeps a matrix close to
that prior: their vote counts as a modest one until their record speaks for or against them. (With
no credit, EM explains away an expert whose only label is on an item nobody else judged: the item
would fall back to the prior and could come out as the choice the one judgment did not make.)

Everything is vectorised over integer codes: both EM steps are products with one sparse
item-by-(expert, choice) matrix, so 100,000 judgments take a fraction of a second. The result is
deterministic: items and experts are coded in sorted order, there is no random start, and a tie in
the posterior goes to the choice listed first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from projects.vocabulary import Preference

CHOICES: tuple[str, ...] = tuple(Preference.values)
COLUMNS = ("item", "expert", "label")


@dataclass(frozen=True)
class Consensus:
    """What Dawid-Skene concluded.

    `posterior`: one row per item, one column per choice, each row summing to 1.
    `items`: per item, `label` (the most probable choice), `confidence` (its posterior),
    `n_labels` (judgments on the item) and `gold` (whether its answer was given and held fixed).
    `confusion`: per expert, a matrix indexed by (`expert`, `truth`) with a column per choice said:
    row (e, c) is the probability of each answer from expert e when the truth is c (it sums to 1).
    `prior`: the estimated share of each true choice.
    """

    posterior: pd.DataFrame
    items: pd.DataFrame
    confusion: pd.DataFrame
    prior: pd.Series
    iterations: int
    converged: bool


@dataclass(frozen=True)
class _Coded:
    """The judgments as integer codes: items and experts in sorted order, choices in label order."""

    items: pd.Index
    experts: pd.Index
    labels: pd.Index
    item: np.ndarray
    expert: np.ndarray
    label: np.ndarray

    @cached_property
    def by_item(self) -> sparse.csr_array:
        """Items by (expert, choice said): column e*K + c is 1 where expert e said choice c on the item.

        Both EM steps are sums over the judgments grouped one way or the other; as products with
        this sparse matrix (and its transpose) they run in compiled code.
        """
        n_items, k = len(self.items), len(self.labels)
        ones = np.ones(len(self.item))
        cell = self.expert * k + self.label
        return sparse.csr_array((ones, (self.item, cell)), shape=(n_items, len(self.experts) * k))

    @cached_property
    def by_cell(self) -> sparse.csr_array:
        return self.by_item.T.tocsr()


def dawid_skene(
    judgments: pd.DataFrame,
    *,
    gold: Mapping[Any, str] | pd.Series | None = None,
    labels: Sequence[str] | None = None,
    smoothing: float = 0.5,
    credit: float = 2.0,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> Consensus:
    """Fit Dawid-Skene to `judgments` (columns item, expert, label).

    `gold` maps items to their known choice; gold items that nobody judged are ignored. `labels` is
    the set of choices to consider, in order (by default the vocabulary's, restricted to those seen
    in the judgments or the gold answers). `smoothing` and `credit` are the prior pseudo-counts of
    each matrix (see the module's docstring). The fit stops when no posterior moves by more than `tol`
    in one iteration, or after `max_iter` iterations (`converged` says which).
    """
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive, not {smoothing!r}: a zero cell would veto a choice")
    if not credit >= 0:
        raise ValueError(f"credit must be zero or more, not {credit!r}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, not {tol!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, not {max_iter!r}")
    gold_series = _gold(gold)
    coded = _code(judgments, labels, extra=gold_series.to_numpy())
    n_items, k = len(coded.items), len(coded.labels)
    if n_items == 0:
        return _empty(coded.labels)

    gold_rows, gold_codes = _gold_rows(coded, gold_series)
    posterior = _vote_shares(coded)
    _clamp(posterior, gold_rows, gold_codes)
    converged, iterations = False, 0
    while not converged and iterations < max_iter:
        iterations += 1
        prior, confusion = _m_step(coded, posterior, smoothing, credit)
        updated = _e_step(coded, prior, confusion)
        _clamp(updated, gold_rows, gold_codes)
        converged = float(np.abs(updated - posterior).max()) < tol
        posterior = updated
    prior, confusion = _m_step(coded, posterior, smoothing, credit)

    best = posterior.argmax(axis=1)
    is_gold = np.zeros(n_items, dtype=bool)
    is_gold[gold_rows] = True
    items = pd.DataFrame(
        {
            "label": coded.labels.take(best).to_numpy(dtype=object),
            "confidence": posterior[np.arange(n_items), best],
            "n_labels": np.bincount(coded.item, minlength=n_items),
            "gold": is_gold,
        },
        index=coded.items,
    )
    matrix_index = pd.MultiIndex.from_product([coded.experts, coded.labels], names=["expert", "truth"])
    return Consensus(
        posterior=pd.DataFrame(posterior, index=coded.items, columns=coded.labels),
        items=items,
        confusion=pd.DataFrame(confusion.reshape(-1, k), index=matrix_index, columns=coded.labels),
        prior=pd.Series(prior, index=coded.labels, name="prior"),
        iterations=iterations,
        converged=converged,
    )


def majority_vote(judgments: pd.DataFrame, *, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """The most frequent choice per item, as the `pairs --aggregate majority` export decides it.

    One row per item: `label` (None when two or more choices tie for the most votes: there is then no
    majority), `votes` (for the leading choice), `n_labels` and `share` (votes / n_labels).
    """
    coded = _code(judgments, labels)
    if not len(coded.items):
        columns = {"label": object, "votes": int, "n_labels": int, "share": float}
        return pd.DataFrame({c: pd.Series([], dtype=t) for c, t in columns.items()}, index=coded.items)
    votes = _votes(coded)
    top = votes.max(axis=1, initial=0)
    leaders = (votes == top[:, None]).sum(axis=1)
    leading = coded.labels.to_numpy(dtype=object)[votes.argmax(axis=1)]
    label = pd.Series(np.where(leaders == 1, leading, None), index=coded.items, dtype=object)
    n = votes.sum(axis=1)
    return pd.DataFrame(
        {"label": label, "votes": top, "n_labels": n, "share": top / np.maximum(n, 1)},
        index=coded.items,
    )


def _gold(gold: Mapping[Any, str] | pd.Series | None) -> pd.Series:
    if gold is None:
        return pd.Series([], dtype=object)
    series = gold if isinstance(gold, pd.Series) else pd.Series(dict(gold), dtype=object)
    if series.isna().any():
        missing = [_plain(v) for v in series.index[series.isna()][:5]]
        raise ValueError(f"gold answers: items {missing} have no answer")
    if not series.index.is_unique:
        raise ValueError("gold answers: an item is given more than one answer")
    return series


def _code(judgments: pd.DataFrame, labels: Sequence[str] | None, extra: np.ndarray | None = None) -> _Coded:
    missing = [c for c in COLUMNS if c not in judgments.columns]
    if missing:
        raise ValueError(f"judgments: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    frame = judgments[list(COLUMNS)]
    blank = frame.isna().any(axis=1)
    if blank.any():
        row = _plain(frame.index[blank.to_numpy()][0])
        raise ValueError(f"judgments: row {row!r} has an empty item, expert or label")
    if frame.duplicated(["item", "expert"]).any():
        item, expert = (
            _plain(v) for v in frame[frame.duplicated(["item", "expert"])].iloc[0][["item", "expert"]]
        )
        raise ValueError(f"judgments: expert {expert!r} judged item {item!r} more than once")

    said = frame["label"].to_numpy(dtype=object)
    seen = set(pd.unique(said if extra is None else np.concatenate([said, extra])))
    if labels is None:
        unknown = sorted(seen - set(CHOICES), key=str)
        if unknown:
            raise ValueError(f"judgments: unknown choice(s) {unknown}; expected one of {', '.join(CHOICES)}")
        label_index = pd.Index([c for c in CHOICES if c in seen], dtype=object)
    else:
        label_index = pd.Index(list(labels), dtype=object)
        if not label_index.is_unique:
            raise ValueError(f"labels: {list(labels)} lists a choice twice")
        unknown = sorted(seen - set(label_index), key=str)
        if unknown:
            raise ValueError(f"judgments: choice(s) {unknown} are not among the labels {list(labels)}")

    item_codes, items = pd.factorize(frame["item"], sort=True)
    expert_codes, experts = pd.factorize(frame["expert"], sort=True)
    # In (item, expert) order, so that the sums, and so the figures to the last bit, do not depend
    # on the order the rows came in.
    order = np.lexsort((expert_codes, item_codes))
    return _Coded(
        items=pd.Index(items, name="item"),
        experts=pd.Index(experts, name="expert"),
        labels=pd.Index(label_index, name="label"),
        item=item_codes[order],
        expert=expert_codes[order],
        label=label_index.get_indexer(frame["label"])[order],
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it stands for, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _gold_rows(coded: _Coded, gold: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    rows = coded.items.get_indexer(gold.index)
    judged = rows >= 0
    return rows[judged], coded.labels.get_indexer(gold.to_numpy()[judged])


def _votes(coded: _Coded) -> np.ndarray:
    n_items, k = len(coded.items), len(coded.labels)
    return np.bincount(coded.item * k + coded.label, minlength=n_items * k).reshape(n_items, k)


def _vote_shares(coded: _Coded) -> np.ndarray:
    votes = _votes(coded).astype(float)
    return votes / votes.sum(axis=1, keepdims=True)


def _clamp(posterior: np.ndarray, rows: np.ndarray, codes: np.ndarray) -> None:
    posterior[rows] = 0.0
    posterior[rows, codes] = 1.0


def _m_step(
    coded: _Coded, posterior: np.ndarray, smoothing: float, credit: float
) -> tuple[np.ndarray, np.ndarray]:
    """The prior share of each true choice and each expert's confusion matrix, from the posteriors."""
    n_experts, k = len(coded.experts), len(coded.labels)
    # Row e*k + said: the posterior mass of each truth over the items where expert e said `said`.
    counts = coded.by_cell @ posterior + smoothing
    confusion = counts.reshape(n_experts, k, k).transpose(0, 2, 1)  # (expert, truth, said)
    confusion = confusion + credit * np.eye(k)
    confusion = confusion / confusion.sum(axis=2, keepdims=True)
    prior = (posterior.sum(axis=0) + smoothing) / (len(posterior) + k * smoothing)
    return prior, confusion


def _e_step(coded: _Coded, prior: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Each item's posterior over the true choice, given the prior and the experts' matrices."""
    n_experts, k = len(coded.experts), len(coded.labels)
    # Row e*k + said: log P(expert e says `said` | truth), for every truth. Sums of logs, not
    # products, so that an item with many judgments does not underflow to zero.
    said = np.log(confusion).transpose(0, 2, 1).reshape(n_experts * k, k)
    log_joint = coded.by_item @ said + np.log(prior)
    log_joint -= log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint)
    return joint / joint.sum(axis=1, keepdims=True)


def _empty(labels: pd.Index) -> Consensus:
    items = pd.Index([], name="item")
    return Consensus(
        posterior=pd.DataFrame(index=items, columns=labels, dtype=float),
        items=pd.DataFrame(
            {
                "label": pd.Series([], dtype=object),
                "confidence": pd.Series([], dtype=float),
                "n_labels": pd.Series([], dtype=int),
                "gold": pd.Series([], dtype=bool),
            },
            index=items,
        ),
        confusion=pd.DataFrame(
            index=pd.MultiIndex.from_arrays([[], []], names=["expert", "truth"]), columns=labels, dtype=float
        ),
        prior=pd.Series(np.full(len(labels), np.nan), index=labels, name="prior"),
        iterations=0,
        converged=True,
    )
