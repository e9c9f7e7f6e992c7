"""Per-expert bias and integrity signals, and gold accuracy with its interval and pause rule.

The signals read a frame of annotations, one row per (item, expert), with the columns each function
names among:

- `expert`, `item`;
- `preference`: the choice ("a", "b", "tie", "both_bad"; empty for a rubric-only annotation);
- `shown_left`: which of the item's responses was on the left, 0 (A, the first) or 1 (B);
- `length_a`, `length_b`: the characters of the item's first and second response;
- `active_seconds`: the time the page was in use; `chars_read`: the characters of prompt and
  responses put in front of the expert;
- `rationale`; `pasted_chars`: how many characters were pasted into the rationales;
  `rationale_chars` (optional): the characters of every rationale of the judgment, its own and its
  rubric criteria's, which is what `pasted_chars` counts within (without it, the rationale's).

Each signal comes per annotation (a Series aligned with the input, for the exports) and per expert
(a frame indexed by expert). A figure that has too little data to stand on (no choice of a side, no
rationale, no time recorded, no other expert to compare with) is missing, pandas' NA, which
`records()` turns into None: never a 0 that would read as a measurement. Counts are plain integers,
shares and p-values nullable floats (`Float64`), flags nullable booleans: one type per column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from projects.vocabulary import Preference

A, B = Preference.A.value, Preference.B.value


def _stats() -> Any:
    """scipy's statistics, imported when a test needs them: they cost a process some 60 MB, and
    the per-annotation signals (what an export computes) need none."""
    from scipy import stats

    return stats


# Tests, intervals and the pause rule, on plain numbers.


def binomial_p_value(successes: int, trials: int, p: float = 0.5) -> float | None:
    """Exact two-sided binomial test of `successes` in `trials` against a rate of `p`.

    The p-value sums the probability of every outcome no more likely than the one observed
    (scipy's `binomtest`, the usual definition). None without a trial: no evidence either way.
    """
    if trials == 0:
        return None
    return float(_stats().binomtest(int(successes), int(trials), p, alternative="two-sided").pvalue)


def wilson_interval(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion; None without a trial.

    Unlike the normal approximation it stays inside [0, 1] and does not collapse to a point at 0 of
    n or n of n, which matters here: a careless expert's first gold answers are often all wrong.
    """
    if trials == 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and trials ({trials}), not {successes}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    z = _stats().norm.isf((1 - confidence) / 2)
    share, z2 = successes / trials, z * z
    denominator = 1 + z2 / trials
    centre = (share + z2 / (2 * trials)) / denominator
    half = z * np.sqrt(share * (1 - share) / trials + z2 / (4 * trials * trials)) / denominator
    # Exactly 0 (or 1) at 0 of n (n of n), where rounding would leave the bound a hair inside.
    low = 0.0 if successes == 0 else max(centre - half, 0.0)
    high = 1.0 if successes == trials else min(centre + half, 1.0)
    return float(low), float(high)


def gold_pause_due(
    *, correct: int, answered: int, gold_min: int, bar: float, confidence: float = 0.95
) -> bool:
    """Whether an expert is to be paused: after at least `gold_min` gold answers, the upper bound of
    their gold accuracy's Wilson interval has fallen below the project's `bar`.

    The upper bound, not the point estimate: an expert is paused only once the evidence says that
    even their best plausible accuracy misses the bar, so an unlucky streak of a good expert is not
    enough.
    """
    if gold_min < 1:
        raise ValueError(f"gold_min must be at least 1, not {gold_min}")
    if not 0 <= bar <= 1:
        raise ValueError(f"bar must be a share between 0 and 1, not {bar}")
    if answered < gold_min:
        return False
    _, upper = wilson_interval(correct, answered, confidence=confidence)  # type: ignore[misc]
    return upper < bar


def gold_accuracy(
    gold: pd.DataFrame,
    *,
    confidence: float = 0.95,
    gold_min: int | None = None,
    bar: float | None = None,
) -> pd.DataFrame:
    """Per expert, from one row per gold answer (columns `expert` and `correct`, a boolean):
    `answered`, `correct`, `accuracy`, the Wilson interval's `low` and `high`, and, when `gold_min`
    and `bar` are given, `pause_due` (`gold_pause_due`)."""
    _require(gold, "expert", "correct")
    if gold["correct"].isna().any():
        raise ValueError("gold answers: `correct` must be true or false on every row")
    grouped = gold.groupby("expert", sort=True)["correct"]
    answered = grouped.size()
    correct = grouped.sum().astype(int)
    intervals = [wilson_interval(c, n, confidence=confidence) for c, n in zip(correct, answered, strict=True)]
    out = pd.DataFrame(
        {
            "answered": answered.astype(int),
            "correct": correct,
            "accuracy": _share(correct.to_numpy(), answered.to_numpy()),
            "low": pd.array([i[0] for i in intervals], dtype="Float64"),
            "high": pd.array([i[1] for i in intervals], dtype="Float64"),
        },
        index=answered.index,
    )
    if gold_min is not None and bar is not None:
        out["pause_due"] = [
            gold_pause_due(correct=c, answered=n, gold_min=gold_min, bar=bar, confidence=confidence)
            for c, n in zip(correct, answered, strict=True)
        ]
    return out


# Position bias: the left side.


def chose_left(annotations: pd.DataFrame) -> pd.Series:
    """Per annotation, whether the response chosen was the one on the left; NA when no side was
    chosen (a tie, both bad, or no choice)."""
    _require(annotations, "preference", "shown_left")
    preference = annotations["preference"]
    chosen = np.where(preference == A, 0, np.where(preference == B, 1, -1))
    left = chosen == annotations["shown_left"].to_numpy()
    return pd.Series(pd.array(left, dtype="boolean"), index=annotations.index, name="chose_left").mask(
        chosen < 0
    )


def position_bias(annotations: pd.DataFrame) -> pd.DataFrame:
    """Per expert: `sided` (choices of A or B), `left` (of those, the left side), `left_share` and
    `left_p_value`, the exact binomial test against an even split (None before a side is chosen).

    With sides shown in random order a careful expert's left share stays near one half; a low p says
    the expert favours a screen position, not a response.
    """
    _require(annotations, "expert")
    counts = _flag_counts(annotations["expert"], chose_left(annotations))
    return pd.DataFrame(
        {
            "sided": counts["n"],
            "left": counts["k"],
            "left_share": _share(counts["k"].to_numpy(), counts["n"].to_numpy()),
            "left_p_value": pd.array(
                [binomial_p_value(k, n) for k, n in zip(counts["k"], counts["n"], strict=True)],
                dtype="Float64",
            ),
        },
        index=counts.index,
    )


# Length bias: the longer response.


def chose_longer(annotations: pd.DataFrame) -> pd.Series:
    """Per annotation, whether the response chosen was the longer one; NA when no side was chosen or
    both responses are as long."""
    _require(annotations, "preference", "length_a", "length_b")
    preference = annotations["preference"]
    length_a = annotations["length_a"].to_numpy(dtype=float)
    length_b = annotations["length_b"].to_numpy(dtype=float)
    longer = np.where(preference == A, length_a > length_b, length_b > length_a)
    comparable = preference.isin([A, B]).to_numpy() & (length_a != length_b)
    return pd.Series(pd.array(longer, dtype="boolean"), index=annotations.index, name="chose_longer").mask(
        ~comparable
    )


def length_bias(annotations: pd.DataFrame) -> pd.DataFrame:
    """Per expert: `compared` (choices between responses of different lengths), `longer` (of those,
    the longer one), `longer_share`, `others_longer_share` (the same share over every other expert of
    the project, pooled) and `longer_p_value`, Fisher's exact test of the two shares.

    Some preference for longer answers is normal (they often are better); the signal is an expert
    whose share stands apart from their colleagues' on the same kind of items.
    """
    _require(annotations, "expert")
    counts = _flag_counts(annotations["expert"], chose_longer(annotations))
    k, n = counts["k"].to_numpy(), counts["n"].to_numpy()
    others_k, others_n = k.sum() - k, n.sum() - n
    stats = _stats()
    p_values = [
        float(stats.fisher_exact([[a, b - a], [c, d - c]]).pvalue) if b and d else None
        for a, b, c, d in zip(k, n, others_k, others_n, strict=True)
    ]
    return pd.DataFrame(
        {
            "compared": counts["n"],
            "longer": counts["k"],
            "longer_share": _share(k, n),
            "others_longer_share": _share(others_k, others_n),
            "longer_p_value": pd.array(p_values, dtype="Float64"),
        },
        index=counts.index,
    )


# Speed.


def seconds_per_1k_chars(annotations: pd.DataFrame) -> pd.Series:
    """Per annotation, active seconds per 1,000 characters read; NA when nothing was there to read or
    no time was recorded (0 seconds: what a submission that did not measure its time stores)."""
    _require(annotations, "active_seconds", "chars_read")
    seconds = annotations["active_seconds"].astype("Float64")
    chars = annotations["chars_read"].astype("Float64")
    rate = (seconds.where(seconds > 0) * 1000 / chars.where(chars > 0)).astype("Float64")
    return rate.rename("seconds_per_1k_chars")


def too_fast(annotations: pd.DataFrame, *, floor: float) -> pd.Series:
    """Per annotation, whether it was read faster than the project's `floor` (seconds per 1,000
    characters); NA where there is no figure."""
    return (seconds_per_1k_chars(annotations) < floor).rename("too_fast")


def speed(annotations: pd.DataFrame, *, floor: float | None = None) -> pd.DataFrame:
    """Per expert: `timed` (annotations with a figure), `median_seconds_per_1k_chars`, and with a
    `floor`, `too_fast_share` (of their annotations under it) and `too_fast` (their median is)."""
    _require(annotations, "expert")
    rate = seconds_per_1k_chars(annotations)
    experts = annotations["expert"]
    grouped = rate.groupby(experts, sort=True)
    out = pd.DataFrame(
        {
            "timed": grouped.count().astype(int),
            "median_seconds_per_1k_chars": grouped.median().astype("Float64"),
        }
    )
    out.index.name = "expert"
    if floor is not None:
        counts = _flag_counts(experts, too_fast(annotations, floor=floor))
        out["too_fast_share"] = _share(counts["k"].to_numpy(), counts["n"].to_numpy())
        out["too_fast"] = (out["median_seconds_per_1k_chars"] < floor).astype("boolean")
    return out


# Rationale integrity.


def normalised_rationale(rationales: pd.Series) -> pd.Series:
    """The rationale as compared for repeats: Unicode-normalised (NFKC), case-folded, with runs of
    punctuation and whitespace made one space, trimmed. "Clear, concise." and "clear concise" are
    the same rationale."""
    text = rationales.fillna("").astype(str)
    return (
        text.str.normalize("NFKC").str.casefold().str.replace(r"[\W_]+", " ", regex=True).str.strip()
    ).rename("normalised_rationale")


def _rationale_chars(annotations: pd.DataFrame) -> pd.Series:
    """The characters `pasted_chars` counts within: `rationale_chars` if given, else the rationale's."""
    if "rationale_chars" in annotations.columns:
        return annotations["rationale_chars"].fillna(0).astype(int)
    return annotations["rationale"].fillna("").astype(str).str.len()


def paste_share(annotations: pd.DataFrame) -> pd.Series:
    """Per annotation, the share of the rationales' characters that were pasted (at most 1: text
    pasted then deleted does not count twice); NA without a rationale."""
    _require(annotations, "rationale", "pasted_chars")
    length = _rationale_chars(annotations).to_numpy()
    pasted = np.minimum(annotations["pasted_chars"].fillna(0).to_numpy(dtype=float), length)
    return pd.Series(_share(pasted, length), index=annotations.index, name="paste_share")


def rationale_repeated(annotations: pd.DataFrame) -> pd.Series:
    """Per annotation, whether its expert gave the same rationale (normalised) on another item; NA
    without a rationale."""
    _require(annotations, "expert", "item", "rationale")
    text = normalised_rationale(annotations["rationale"])
    items = annotations.groupby([annotations["expert"], text], sort=False)["item"].transform("nunique")
    return (
        pd.Series(pd.array(items.to_numpy() > 1, dtype="boolean"), index=annotations.index)
        .mask(text == "")
        .rename("rationale_repeated")
    )


def rationale_short(annotations: pd.DataFrame, *, fraction: float = 0.25) -> pd.Series:
    """Per annotation, whether its rationale is shorter than `fraction` of the project's median
    rationale (over the non-empty ones in `annotations`, in normalised characters); NA without one."""
    _require(annotations, "rationale")
    length = normalised_rationale(annotations["rationale"]).str.len()
    written = length > 0
    median = length[written].median() if written.any() else np.nan
    short = pd.Series(pd.array((length < fraction * median).to_numpy(), dtype="boolean"), index=length.index)
    return short.mask(~written).rename("rationale_short")


def rationale_integrity(annotations: pd.DataFrame, *, fraction: float = 0.25) -> pd.DataFrame:
    """Per expert: `rationales` (non-empty ones), `paste_share` (pasted characters over all their
    rationales' characters), `repeated_share` and `short_share` (of their rationales)."""
    _require(annotations, "expert", "rationale", "pasted_chars")
    experts = annotations["expert"]
    length = _rationale_chars(annotations)
    pasted = np.minimum(annotations["pasted_chars"].fillna(0).to_numpy(dtype=float), length.to_numpy())
    repeated = _flag_counts(experts, rationale_repeated(annotations))
    short = _flag_counts(experts, rationale_short(annotations, fraction=fraction))
    chars = (
        pd.DataFrame({"pasted": pasted, "length": length.to_numpy()})
        .groupby(experts.to_numpy())
        .sum()
        .reindex(repeated.index)
    )
    return pd.DataFrame(
        {
            "rationales": repeated["n"],
            "paste_share": _share(chars["pasted"].to_numpy(), chars["length"].to_numpy()),
            "repeated_share": _share(repeated["k"].to_numpy(), repeated["n"].to_numpy()),
            "short_share": _share(short["k"].to_numpy(), short["n"].to_numpy()),
        },
        index=repeated.index,
    )


# Together, and out.


def annotation_signals(
    annotations: pd.DataFrame, *, floor: float | None = None, fraction: float = 0.25
) -> pd.DataFrame:
    """Every per-annotation signal, aligned with `annotations` (which must have all the columns)."""
    columns = [
        chose_left(annotations),
        chose_longer(annotations),
        seconds_per_1k_chars(annotations),
        *([too_fast(annotations, floor=floor)] if floor is not None else []),
        paste_share(annotations),
        rationale_repeated(annotations),
        rationale_short(annotations, fraction=fraction),
    ]
    return pd.concat(columns, axis=1)


def expert_signals(
    annotations: pd.DataFrame, *, floor: float | None = None, fraction: float = 0.25
) -> pd.DataFrame:
    """Every per-expert signal, one row per expert who has an annotation."""
    return pd.concat(
        [
            position_bias(annotations),
            length_bias(annotations),
            speed(annotations, floor=floor),
            rationale_integrity(annotations, fraction=fraction),
        ],
        axis=1,
    )


def records(frame: pd.DataFrame, *, index: str | None = None) -> list[dict[str, Any]]:
    """The rows as plain Python values, missing ones as None (for JSON). With `index`, the index is
    included under that name."""
    plain = frame.reset_index(names=index) if index else frame
    return [
        {column: _plain(value) for column, value in row.items()}
        for row in plain.astype(object).to_dict("records")
    ]


def _plain(value: Any) -> Any:
    if value is pd.NA or value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _require(frame: pd.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"annotations: missing column(s) {', '.join(missing)}")


def _share(part: Iterable[float], whole: Iterable[float]) -> pd.arrays.FloatingArray:
    """part / whole, NA where whole is 0 (there is nothing to take a share of)."""
    part, whole = np.asarray(part, dtype=float), np.asarray(whole, dtype=float)
    shares = np.full(part.shape, np.nan)
    np.divide(part, whole, out=shares, where=whole != 0)
    return pd.array(shares, dtype="Float64")  # NaN becomes NA


def _flag_counts(experts: pd.Series, flags: pd.Series) -> pd.DataFrame:
    """Per expert (every one in `experts`): `n`, the annotations with a flag, and `k`, those with it set."""
    frame = pd.DataFrame({"expert": experts.to_numpy(), "flag": flags.to_numpy()})
    grouped = frame.groupby("expert", sort=True)["flag"]
    return pd.DataFrame({"n": grouped.count().astype(int), "k": grouped.sum().astype(int)})
