"""The proof by simulation (benchmarks/quality_sim.py) on a project small enough for the suite.

What it finds on a real-sized project is the benchmark's to say (benchmarks/RESULTS.md); here it
must run through the real services to the end and report every figure, the same ones for a seed.
"""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "quality_sim.py"
FIGURES = {
    "random_clicker_gold_items_to_pause",
    "always_left_flagged_after_labels",
    "good_experts_paused",
    "majority_accuracy",
    "dawid_skene_accuracy",
}


def _script():
    spec = importlib.util.spec_from_file_location("quality_sim", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


quality_sim = _script()
SMALL = quality_sim.Config(items=40, overlap=3, seed=3)


def measured(figures: dict) -> dict:
    return {key: value for key, value in figures.items() if not key.startswith(("seconds", "labels_per"))}


@pytest.mark.django_db
def test_the_simulation_labels_every_item_to_its_overlap_and_reports_every_figure():
    figures = quality_sim.simulate(SMALL)

    assert set(figures) >= FIGURES
    real_items = figures["items"] - figures["gold_items"]
    gold_answers = sum(row["gold"] for row in figures["experts"])
    assert gold_answers > 0
    assert figures["annotations"] == real_items * SMALL.overlap + gold_answers
    # Every label a side, always the left: 2 x 0.5^8 < 0.01 < 2 x 0.5^7.
    assert figures["always_left_flagged_after_labels"] == 8
    assert 0.5 <= figures["majority_accuracy"] <= 1
    assert 0.5 <= figures["dawid_skene_accuracy"] <= 1
    assert "always-left flagged (left share p < 0.01) after 8 labels" in "\n".join(
        quality_sim.report(figures)
    )


@pytest.mark.django_db
def test_the_simulation_gives_the_same_figures_for_the_same_seed():
    tiny = quality_sim.Config(items=20, overlap=2, seed=5)
    first, second = (measured(quality_sim.simulate(tiny)) for _ in range(2))

    assert first == second
