"""Agreement statistics for a 100,000-annotation project, from synthetic judgment frames.

    .venv/bin/python benchmarks/quality_bench.py                       # 20,000 items x 5 of 40 experts
    .venv/bin/python benchmarks/quality_bench.py --items 100000 --experts 200

No database: the frames are built in memory the way `quality.frames` builds them (a choice and a
signed strength per annotation, and each rubric criterion scored on both responses), then every
figure of `quality.agreement`, Dawid-Skene consensus (all its iterations) and the position bias of
`quality.bias` is computed once and timed. Target: under 2 s in all. The last line
is JSON: {"annotations": N, "seconds_total": S}.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quality import agreement, bias, consensus

CHOICES = np.array(["a", "b", "tie", "both_bad"], dtype=object)


def frames(items: int, experts: int, per_item: int, criteria: int, seed: int) -> dict[str, pd.DataFrame]:
    """Judgment frames of `items` items, each judged by `per_item` of `experts` experts who are
    right (the item's hidden label) 70% of the time."""
    rng = np.random.default_rng(seed)
    chosen = np.argsort(rng.random((items, experts)), axis=1)[:, :per_item]
    item = np.repeat(np.arange(items), per_item)
    expert = chosen.ravel() + 1
    n = len(item)
    right = rng.random(n) < 0.7
    choice = np.where(right, rng.choice(4, size=items, p=[0.4, 0.4, 0.1, 0.1])[item], rng.integers(0, 4, n))
    strength = rng.integers(1, 4, n)
    signed = np.select([choice == 0, choice == 1, choice == 2], [-strength, strength, 0], 0)
    built = {
        "choices": pd.DataFrame({"item": item, "expert": expert, "value": CHOICES[choice]}),
        "strengths": pd.DataFrame({"item": item, "expert": expert, "value": signed})[choice != 3],
    }
    for number in range(criteria):
        # Both responses of each item scored 1-5 by its experts: responses 2i and 2i + 1.
        truth = rng.integers(1, 6, (items, 2))
        noise = rng.integers(-1, 2, (n, 2)) * (rng.random((n, 2)) < 0.4)
        built[f"criterion {number + 1}"] = pd.DataFrame(
            {
                "item": np.concatenate([2 * item, 2 * item + 1]),
                "expert": np.concatenate([expert, expert]),
                "value": np.clip(truth[item] + noise, 1, 5).T.ravel(),
            }
        )
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--experts", type=int, default=40)
    parser.add_argument("--per-item", type=int, default=5)
    parser.add_argument("--criteria", type=int, default=2, help="rubric criteria scored on each response")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    built = frames(args.items, args.experts, args.per_item, args.criteria, args.seed)
    choices, strengths = built["choices"], built["strengths"]
    criteria = {key: frame for key, frame in built.items() if key.startswith("criterion")}
    print(
        f"{len(choices):,} annotations: {args.items:,} items x {args.per_item} of {args.experts} experts; "
        f"{len(strengths):,} signed strengths; {len(criteria)} criteria of "
        f"{len(next(iter(criteria.values()), [])):,} scores each"
    )
    figures = {
        "percent agreement": lambda: agreement.percent_agreement(choices),
        "agreement per item": lambda: agreement.item_agreement(choices),
        "Fleiss' kappa": lambda: agreement.fleiss_kappa(choices),
        "Cohen's kappa, every pair": lambda: agreement.pairwise_agreement(choices),
        "alpha, nominal (choice)": lambda: agreement.krippendorff_alpha(choices, level="nominal"),
        "alpha, ordinal (strength)": lambda: agreement.krippendorff_alpha(strengths, level="ordinal"),
        "expert vs consensus, choice": lambda: agreement.expert_consensus(choices),
        "expert vs consensus, strength": lambda: agreement.expert_consensus(strengths, level="ordinal"),
    }
    labelled = choices.rename(columns={"value": "label"})
    sided = pd.DataFrame(
        {
            "expert": choices["expert"],
            "preference": choices["value"],
            "shown_left": np.random.default_rng(args.seed).integers(0, 2, len(choices)),
        }
    )
    figures["Dawid-Skene, every iteration"] = lambda: consensus.dawid_skene(labelled, tol=1e-300).items
    figures["position bias per expert"] = lambda: bias.position_bias(sided)
    for key, frame in criteria.items():
        figures[f"alpha, interval ({key})"] = lambda frame=frame: agreement.krippendorff_alpha(
            frame, level="interval"
        )
        figures[f"expert vs consensus, {key}"] = lambda frame=frame: agreement.expert_consensus(
            frame, level="interval"
        )
    total = 0.0
    for name, figure in figures.items():
        started = time.perf_counter()
        result = figure()
        seconds = time.perf_counter() - started
        total += seconds
        shown = f"{result:.4f}" if isinstance(result, float) else f"{len(result):,} rows"
        print(f"{name:36} {seconds * 1000:8.1f} ms   {shown}")
    print(f"{'total':36} {total * 1000:8.1f} ms   (target: under 2,000 ms)")
    print(json.dumps({"annotations": len(choices), "seconds_total": round(total, 3)}))


if __name__ == "__main__":
    main()
