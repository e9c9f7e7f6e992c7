"""Proof by simulation: do the quality controls catch bad experts, and does Dawid-Skene beat the majority?

    .venv/bin/python benchmarks/quality_sim.py                 # 1,000 items, overlap 5, seed 14
    .venv/bin/python benchmarks/quality_sim.py --seed 7 --items 2000 --overlap 3
    .venv/bin/python benchmarks/quality_sim.py --no-pause      # gold bar 0: nobody is paused
    .venv/bin/python benchmarks/quality_sim.py --odds          # the rules alone, by Monte Carlo

Builds a pairwise project in a throwaway PostgreSQL database (`labelhub_quality_sim`, made
afresh and dropped at the end unless `--keep`; `--url` names another) through the product's own
services: items imported with a hidden true answer ("a" or "b"), a tenth of them gold with that
answer known, the project's gold rate 10%, and nine vetted experts granted membership:

- six good experts, who give the true answer 85% of the time;
- a random clicker, who picks the left or the right side at random;
- an always-left expert, who picks the left side whatever it shows;
- a fast-and-sloppy expert: a few seconds per item, one-word rationales, right 60% of the time.

Then the experts take turns (in a new random order each round): `assignment_next`, and
`annotation_submit` of a `Judgment` in display terms: "A" is the response shown on the left,
which the assignment's `shown_left` says. Gold checks are mixed in and experts are paused by the
product's own rules (its defaults: `gold_min` 10, `gold_bar_percent` 70), in the submission's
transaction, exactly as in production. It runs until no expert is served anything.

Measured, with every judgment in (the paused experts' too):
- `random_clicker_gold_items_to_pause`: gold answers the random clicker had given when paused
  (None: never paused). Goal: at most 20.
- `always_left_flagged_after_labels`: after how many labels the always-left expert's left share
  first has a binomial p below 0.01 (`quality.bias`). Goal: at most 60.
- `good_experts_paused`: goal 0.
- `majority_accuracy`, `dawid_skene_accuracy`: each method's answer on the items that are not
  gold, against the simulated truth (an item without a majority counts as wrong), from the
  project's judgment frames (`quality.frames`) and `quality.consensus`, Dawid-Skene seeded with
  the gold answers. Goal: Dawid-Skene at least 3 points above the majority.

Also: `oracle_accuracy`, a reference: a vote weighted by each expert's simulated log-odds of
being right, the best aggregation on average for experts like these (Dawid-Skene, learning how
each expert did on these very items, can land a little above it);
`good_experts_ever_flagged_left`, the good experts whose left share reached p < 0.01 at some
label when tested after every label as the always-left expert is; and after how many gold
answers the always-left and the sloppy experts were paused.

The last line is JSON with those keys and a few more (seed, counts, seconds). Deterministic for
a seed: the serving draws (gold checks, sides) and every expert's answers come from seeded
generators; only the wall-clock seconds vary.
"""

import argparse
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/labelhub_quality_sim"

GOAL_RANDOM_GOLD = 20
GOAL_LEFT_LABELS = 60
LEFT_P = 0.01
GOAL_DS_POINTS = 3.0

WORDS = (
    "dose",
    "interaction",
    "kidney",
    "contract",
    "clause",
    "liability",
    "proof",
    "lemma",
    "bound",
    "because",
    "however",
    "therefore",
    "the",
    "a",
    "of",
    "to",
    "and",
    "is",
    "in",
    "that",
    "which",
    "risk",
    "answer",
    "evidence",
    "source",
)


@dataclass(frozen=True)
class Behaviour:
    """How a simulated expert answers."""

    kind: str  # good, random, left, sloppy
    accuracy: float | None  # chance of the item's true answer; None: does not read the item
    seconds: tuple[int, int]  # active seconds reported, drawn uniformly
    rationales: tuple[str, ...]


GOOD = Behaviour(
    "good",
    0.85,
    (90, 300),
    (
        "Response {side} answers the question asked and its figures check out; the other one "
        "misreads the prompt.",
        "{side} is correct on the key point and says why; the other response hedges and is wrong "
        "about the exception.",
        "Both are fluent, but {side} cites the right rule and the other contradicts it.",
    ),
)
RANDOM = Behaviour("random", None, (8, 30), ("Looks better.", "This one.", "Better overall."))
LEFT = Behaviour("left", None, (5, 20), ("The first one is better.",))
SLOPPY = Behaviour("sloppy", 0.60, (2, 5), ("ok", "fine", "better", "good"))

# The cast, in the order the experts are created (their user ids follow it).
CAST: tuple[tuple[str, Behaviour], ...] = (
    *((f"good-{n}", GOOD) for n in range(1, 7)),
    ("random-clicker", RANDOM),
    ("always-left", LEFT),
    ("fast-sloppy", SLOPPY),
)


@dataclass(frozen=True)
class Config:
    items: int = 1000
    overlap: int = 5  # labels per item
    gold_percent: int = 10  # the share of items that are gold, and the project's gold rate
    seed: int = 14
    # False: the project's gold bar is 0 ("never pause"), to see what the spammers do left alone.
    pause: bool = True


@dataclass
class SimExpert:
    name: str
    behaviour: Behaviour
    user: Any  # labelhub.models.User
    rng: random.Random
    labels: int = 0
    gold: int = 0
    gold_correct: int = 0
    stopped: str = ""  # why they were served nothing more: "paused", "done"
    at_stop: tuple[int, int] = (0, 0)  # (labels, gold answers) then

    def judge(self, *, truth: str, shown_left: int) -> tuple[str, str | None]:
        """(the side clicked, "A" or "B"; the item's response meant, "a"/"b", or None when the
        expert picks a side without reading)."""
        rng, accuracy = self.rng, self.behaviour.accuracy
        if self.behaviour.kind == "left":
            return "A", None
        if accuracy is None:
            return rng.choice("AB"), None
        meant = truth if rng.random() < accuracy else ("b" if truth == "a" else "a")
        # The item's first response ("a") is on the left unless shown_left says it is the second.
        on_left = "a" if shown_left == 0 else "b"
        return ("A" if meant == on_left else "B"), meant


def _text(rng: random.Random, length: int) -> str:
    out: list[str] = []
    while sum(len(word) + 1 for word in out) < length:
        out.append(rng.choice(WORDS))
    return " ".join(out)[:length]


@dataclass
class World:
    project: Any
    experts: list[SimExpert]
    truth: dict[int, str]  # item pk -> its true answer
    gold: dict[int, str] = field(default_factory=dict)  # gold item pk -> its known answer


def build(config: Config) -> World:
    """The project, its items and its experts, made through the product's services."""
    import secrets

    from django.db import transaction

    from labelhub.models import User
    from labelhub.services import expert_profile_for, expert_vet
    from projects.importing import parse_items
    from projects.models import Client, Item, Membership, Project
    from projects.services import guideline_publish, items_import, membership_grant, project_create

    rng = random.Random(f"{config.seed}-items")
    tag = secrets.token_hex(3)  # names unique in the database; nothing measured depends on them
    staff = User.objects.create_user(f"sim-staff-{tag}", is_staff=True)
    client = Client.objects.create(slug=f"sim-lab-{tag}", name=f"Simulated lab {tag}")
    project = project_create(
        project=Project(
            client=client,
            name="Quality simulation",
            codename="Simulation",
            labels_per_item=config.overlap,
            gold_percent=config.gold_percent,
            **({} if config.pause else {"gold_bar_percent": 0}),
        ),
        created_by=staff,
    )
    with transaction.atomic():
        guideline_publish(project=project, body="# Prefer the correct answer\n", author=staff)
    n_gold = round(config.items * config.gold_percent / 100)
    gold_at = set(rng.sample(range(config.items), n_gold))
    truths = [rng.choice("ab") for _ in range(config.items)]
    lines = [
        json.dumps(
            {
                "id": f"sim-{n}",
                "prompt": _text(rng, 200),
                "responses": [{"content": _text(rng, 700)}, {"content": _text(rng, 700)}],
                **({"gold": truths[n]} if n in gold_at else {}),
            }
        )
        for n in range(config.items)
    ]
    parsed = parse_items("\n".join(lines), fmt="jsonl")
    assert not parsed.errors, parsed.errors[:3]
    items_import(project=project, records=parsed.items)
    truth, gold = {}, {}
    for pk, external_id, is_gold, answer in Item.objects.filter(project=project).values_list(
        "pk", "external_id", "is_gold", "gold_answer"
    ):
        truth[pk] = truths[int(external_id.removeprefix("sim-"))]
        if is_gold:
            gold[pk] = answer["preference"]
            assert gold[pk] == truth[pk]
    experts = []
    for name, behaviour in CAST:
        user = User.objects.create_user(f"sim-{tag}-{name}")
        expert_vet(profile=expert_profile_for(user=user), by=staff)
        membership_grant(project=project, user=user, role=Membership.Role.EXPERT, granted_by=staff)
        experts.append(SimExpert(name, behaviour, user, random.Random(f"{config.seed}-{name}")))
    return World(project=project, experts=experts, truth=truth, gold=gold)


def label(world: World, *, seed: int, progress: Callable[[int], None] | None = None) -> int:
    """The experts take turns until none is served anything; returns the labels stored."""
    from annotations.services import Judgment, annotation_submit, assignment_next
    from projects.models import Membership

    project, truth = world.project, world.truth
    order_rng, serve_rng = random.Random(f"{seed}-turns"), random.Random(f"{seed}-serving")
    working, stored = list(world.experts), 0
    while working:
        turn = list(working)
        order_rng.shuffle(turn)
        for expert in turn:
            assignment = assignment_next(project=project, expert=expert.user, rng=serve_rng)
            if assignment is None:
                status = Membership.objects.get(project=project, user=expert.user).quality_status
                expert.stopped = "paused" if status == Membership.QualityStatus.PAUSED else "done"
                expert.at_stop = (expert.labels, expert.gold)
                working.remove(expert)
                continue
            item = assignment.item_id
            choice, meant = expert.judge(truth=truth[item], shown_left=assignment.shown_left)
            rng, behaviour = expert.rng, expert.behaviour
            submission = annotation_submit(
                assignment=assignment,
                expert=expert.user,
                judgment=Judgment(
                    choice=choice,
                    strength=rng.randint(1, 3),
                    rationale=rng.choice(behaviour.rationales).format(side=choice),
                    active_seconds=rng.randint(*behaviour.seconds),
                ),
                idempotency_key=uuid.uuid4(),  # unique in the database; it decides nothing
            )
            preference = submission.annotation.preference
            # The simulation's reading of the sides must be the product's.
            assert meant is None or preference == meant, (choice, assignment.shown_left, preference, meant)
            expert.labels += 1
            if item in world.gold:
                expert.gold += 1
                expert.gold_correct += preference == world.gold[item]
            stored += 1
            if progress is not None and stored % 500 == 0:
                progress(stored)
    return stored


def first_flagged(preferences: list[str], shown_left: list[int], *, below: float) -> int | None:
    """After how many of these labels (in submission order) the left share first has a binomial
    p below `below`; None if it never does."""
    from quality.bias import binomial_p_value, chose_left

    left = chose_left(pd.DataFrame({"preference": preferences, "shown_left": shown_left}))
    sided = lefts = 0
    for n, flag in enumerate(left, start=1):
        if flag is pd.NA:
            continue
        sided, lefts = sided + 1, lefts + bool(flag)
        p = binomial_p_value(lefts, sided)
        if p is not None and p < below:
            return n
    return None


def measure(world: World) -> dict[str, Any]:
    """The figures, from what the database holds (see the module)."""
    from annotations.models import Annotation
    from labelhub.models import AuditEvent
    from projects.models import Membership
    from quality.bias import position_bias
    from quality.consensus import dawid_skene, majority_vote
    from quality.frames import judgment_frames

    project = world.project
    by_user = {expert.user.pk: expert for expert in world.experts}
    status = dict(
        Membership.objects.filter(project=project, user__in=list(by_user)).values_list(
            "user_id", "quality_status"
        )
    )
    paused = {pk for pk, value in status.items() if value == Membership.QualityStatus.PAUSED}
    pauses = {
        event.target.removeprefix("expert "): event.detail
        for event in AuditEvent.objects.filter(action=AuditEvent.Action.EXPERT_PAUSED, project_id=project.pk)
    }

    started = time.perf_counter()
    frames = judgment_frames(project)
    choices = frames.choices.rename(columns={"value": "label"})
    real = [pk for pk in world.truth if pk not in world.gold]

    def accuracy(labels: pd.Series) -> float:
        return float((labels.reindex(real) == pd.Series(world.truth).reindex(real)).mean())

    majority = accuracy(majority_vote(choices)["label"])
    ds = accuracy(dawid_skene(choices, gold=world.gold).items["label"])
    statistics_seconds = time.perf_counter() - started
    # Dawid-Skene again without the paused experts' judgments (the majority would leave items
    # with four labels tied, so it is not compared there).
    ds_active = accuracy(
        dawid_skene(choices[~choices["expert"].isin(paused)], gold=world.gold).items["label"]
    )
    oracle = accuracy(_oracle(choices, {e.user.pk: e.behaviour.accuracy for e in world.experts}))

    sides = pd.DataFrame.from_records(
        list(
            Annotation.objects.filter(project=project)
            .order_by("pk")
            .values_list("expert_id", "preference", "assignment__shown_left")
        ),
        columns=["expert", "preference", "shown_left"],
    )
    bias = position_bias(sides)
    named = {expert.name: expert for expert in world.experts}
    left_expert = named["always-left"]
    own = sides[sides["expert"] == left_expert.user.pk]
    flagged = first_flagged(list(own["preference"]), list(own["shown_left"]), below=LEFT_P)
    # The same rule on the good experts: checked after every label, how many are ever flagged.
    good_flagged = 0
    for expert in world.experts:
        if expert.behaviour is GOOD:
            theirs = sides[sides["expert"] == expert.user.pk]
            good_flagged += (
                first_flagged(list(theirs["preference"]), list(theirs["shown_left"]), below=LEFT_P)
                is not None
            )

    clicker = named["random-clicker"]
    clicker_pause = pauses.get(clicker.user.get_username())
    rows = []
    for expert in world.experts:
        pk = expert.user.pk
        pause = pauses.get(expert.user.get_username())
        if pause is not None:  # what the product recorded, and what the simulation counted
            assert pause["gold_answered"] == expert.at_stop[1], (expert.name, pause, expert.at_stop)
        rows.append(
            {
                "expert": expert.name,
                "kind": expert.behaviour.kind,
                "labels": expert.labels,
                "gold": expert.gold,
                "gold_accuracy": expert.gold_correct / expert.gold if expert.gold else None,
                "status": status[pk],
                "left_share": _float(bias["left_share"].get(pk)),
                "left_p": _float(bias["left_p_value"].get(pk)),
            }
        )
    return {
        "random_clicker_gold_items_to_pause": clicker_pause["gold_answered"] if clicker_pause else None,
        "always_left_flagged_after_labels": flagged,
        "good_experts_paused": sum(1 for e in world.experts if e.behaviour is GOOD and e.user.pk in paused),
        "majority_accuracy": round(majority, 4),
        "dawid_skene_accuracy": round(ds, 4),
        "dawid_skene_minus_majority_points": round(100 * (ds - majority), 2),
        "dawid_skene_accuracy_without_paused": round(ds_active, 4),
        "oracle_accuracy": round(oracle, 4),
        "good_experts_ever_flagged_left": good_flagged,
        "random_clicker_labels_to_pause": clicker.at_stop[0] if clicker_pause else None,
        "always_left_gold_items_to_pause": _pause_gold(pauses, left_expert),
        "fast_sloppy_gold_items_to_pause": _pause_gold(pauses, named["fast-sloppy"]),
        "items": len(world.truth),
        "gold_items": len(world.gold),
        "annotations": len(sides),
        "seconds_statistics": round(statistics_seconds, 3),
        "experts": rows,
    }


def _oracle(choices: pd.DataFrame, accuracy: dict[int, float | None]) -> pd.Series:
    """Each item's answer by a vote weighted with each expert's simulated log-odds of being
    right (0 for those who do not read): the Bayes-optimal answer for experts like these, both
    answers being as likely. Where the votes cancel out, "a": right half the time."""
    odds = {pk: 0.0 if p is None else float(np.log(p / (1 - p))) for pk, p in accuracy.items()}
    weight = choices["expert"].map(odds) * np.where(choices["label"] == "a", 1.0, -1.0)
    score = weight.groupby(choices["item"]).sum()
    return pd.Series(np.where(score < 0, "b", "a"), index=score.index)


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


def _pause_gold(pauses: dict[str, dict], expert: SimExpert) -> int | None:
    pause = pauses.get(expert.user.get_username())
    return pause["gold_answered"] if pause else None


def simulate(config: Config, *, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Build the world, let the experts label, measure. Django must be set up on a database."""
    started = time.perf_counter()
    world = build(config)
    built = time.perf_counter()
    stored = label(world, seed=config.seed, progress=progress)
    labelled = time.perf_counter()
    figures = measure(world)
    return {
        **figures,
        "seed": config.seed,
        "overlap": config.overlap,
        "gold_percent": config.gold_percent,
        "pause": config.pause,
        "gold_min": world.project.gold_min,
        "gold_bar_percent": world.project.gold_bar_percent,
        "labels_per_second": round(stored / (labelled - built), 1),
        "seconds_setup": round(built - started, 2),
        "seconds_labelling": round(labelled - built, 2),
        "seconds_total": round(time.perf_counter() - started, 2),
    }


def report(figures: dict[str, Any]) -> list[str]:
    """Human-readable lines."""

    def shown(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [
        f"{figures['items']:,} items ({figures['gold_items']} gold), overlap {figures['overlap']}, "
        f"gold rate {figures['gold_percent']}%, "
        + (
            f"pause after {figures['gold_min']} gold answers below {figures['gold_bar_percent']}%"
            if figures["gold_bar_percent"]
            else "pausing off (gold bar 0)"
        )
        + f"; {figures['annotations']:,} labels in "
        f"{figures['seconds_labelling']:.1f} s ({figures['labels_per_second']} labels/s), "
        f"seed {figures['seed']}",
        "",
        f"{'expert':16} {'kind':7} {'labels':>6} {'gold':>5} {'gold acc':>8} {'status':>7} "
        f"{'left':>6} {'left p':>9}",
    ]
    for row in figures["experts"]:
        lines.append(
            f"{row['expert']:16} {row['kind']:7} {row['labels']:6} {row['gold']:5} "
            f"{shown(row['gold_accuracy']):>8} {row['status']:>7} {shown(row['left_share']):>6} "
            f"{'-' if row['left_p'] is None else f'{row["left_p"]:.2g}':>9}"
        )

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    def paused(gold: int | None, labels: int | None = None) -> str:
        if gold is None:
            return "never paused"
        return f"paused after {gold} gold answers" + ("" if labels is None else f" ({labels} labels)")

    clicker, left = figures["random_clicker_gold_items_to_pause"], figures["always_left_flagged_after_labels"]
    points = figures["dawid_skene_minus_majority_points"]
    lines += [
        "",
        "random clicker "
        + paused(clicker, figures["random_clicker_labels_to_pause"])
        + f" (goal <= {GOAL_RANDOM_GOLD}: {verdict(clicker is not None and clicker <= GOAL_RANDOM_GOLD)})",
        f"always-left flagged (left share p < {LEFT_P}) after {left} labels "
        f"(goal <= {GOAL_LEFT_LABELS}: {verdict(left is not None and left <= GOAL_LEFT_LABELS)}); "
        + paused(figures["always_left_gold_items_to_pause"]),
        "fast-and-sloppy " + paused(figures["fast_sloppy_gold_items_to_pause"]),
        f"good experts paused: {figures['good_experts_paused']} (goal 0: "
        f"{verdict(figures['good_experts_paused'] == 0)}); flagged left at some point by the same "
        f"test: {figures['good_experts_ever_flagged_left']}",
        f"accuracy against the truth, every judgment in: majority {figures['majority_accuracy']:.4f}, "
        f"Dawid-Skene {figures['dawid_skene_accuracy']:.4f} ({points:+.2f} points; goal >= "
        f"+{GOAL_DS_POINTS:.0f}: {verdict(points >= GOAL_DS_POINTS)})",
        f"a vote weighted by the accuracies simulated (the reference): "
        f"{figures['oracle_accuracy']:.4f}; Dawid-Skene without the paused experts' judgments: "
        f"{figures['dawid_skene_accuracy_without_paused']:.4f}",
        f"frames, majority and Dawid-Skene: {figures['seconds_statistics'] * 1000:.0f} ms",
    ]
    return lines


# The pause rules `odds` compares: (gold bar, confidence of the interval); the first is the default.
PAUSE_RULES = ((0.70, 0.95), (0.75, 0.95), (0.70, 0.90), (0.80, 0.95))


def odds(*, runs: int = 40_000, seed: int = 14, gold_min: int = 10) -> list[str]:
    """Without a database, by Monte Carlo of the product's rules alone: how often
    `quality.bias.gold_pause_due` pauses an expert of a given accuracy within so many gold
    answers, and how often an expert who favours no side has a left share with p < 0.01 at some
    label when `binomial_p_value` is asked after every label (as `always_left_flagged_after_labels`
    asks it)."""
    from quality.bias import binomial_p_value, gold_pause_due

    rng = np.random.default_rng(seed)
    most = 100
    answered = np.arange(1, most + 1)
    running = {
        accuracy: np.cumsum(rng.random((runs, most)) < accuracy, axis=1) for accuracy in (0.5, 0.6, 0.85)
    }
    lines = [
        f"Pause rule, {runs:,} runs each (gold_min {gold_min}): "
        "the share paused within 20 / 70 / 100 gold answers",
        f"{'bar, interval':16} {'50% right':>26} {'60% right':>26} {'85% right':>26}",
    ]
    for bar, confidence in PAUSE_RULES:
        due = np.array(
            [
                [
                    k <= n
                    and gold_pause_due(
                        correct=k, answered=n, gold_min=gold_min, bar=bar, confidence=confidence
                    )
                    for k in range(most + 1)
                ]
                for n in range(most + 1)
            ]
        )
        cells = []
        for correct in running.values():
            paused = due[answered[None, :], correct]
            first = np.where(paused.any(axis=1), paused.argmax(axis=1) + 1, most + 1)
            cells.append(" / ".join(f"{np.mean(first <= n):.2%}" for n in (20, 70, 100)))
        lines.append(f"{f'{bar:.0%}, {confidence:.0%}':16} " + " ".join(f"{cell:>26}" for cell in cells))
    # The left-share test: for a fair expert the flagged counts of left choices after n labels
    # are k <= low[n] or k >= n - low[n] (the exact test is symmetric at one half).
    labels = 700
    low = np.full(labels + 1, -1)
    for n in range(1, labels + 1):
        k = low[n - 1] + 1  # the bound grows by at most one a label
        low[n] = k if binomial_p_value(k, n) < LEFT_P else k - 1
    fair = np.cumsum(rng.random((runs, labels)) < 0.5, axis=1)
    n = np.arange(1, labels + 1)
    flagged = (fair <= low[n][None, :]) | (fair >= (n - low[n])[None, :])
    ever = {m: float(flagged[:, :m].any(axis=1).mean()) for m in (100, 300, 700)}
    lines.append(
        f"An expert who favours no side, tested after every label, reaches p < {LEFT_P} at some "
        "label within "
        + ", ".join(f"{m} labels in {share:.1%}" for m, share in ever.items())
        + f" of runs (at the {labels}th label itself: {flagged[:, -1].mean():.1%})"
    )
    return lines


def fresh_database(url: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _setup import django_on_bench_db

    drop_database(url)
    name, admin_url = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    # A throwaway database: a commit need not wait for the disk (twice the labels per second on
    # this machine). What is measured is what the quality controls decide, not how fast.
    subprocess.run(
        ["psql", admin_url, "-qc", f"ALTER DATABASE {name} SET synchronous_commit = off"], check=True
    )
    django_on_bench_db(url)  # migrates it


def drop_database(url: str) -> None:
    name, admin_url = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Config()
    parser.add_argument("--items", type=int, default=defaults.items)
    parser.add_argument("--overlap", type=int, default=defaults.overlap, help="labels per item")
    parser.add_argument("--gold-percent", type=int, default=defaults.gold_percent)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--no-pause", action="store_true", help="set the project's gold bar to 0: nobody is paused"
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="the throwaway database (dropped first)")
    parser.add_argument("--keep", action="store_true", help="leave the database for a look afterwards")
    parser.add_argument(
        "--odds", action="store_true", help="no simulation: the pause and left-share rules by Monte Carlo"
    )
    args = parser.parse_args()
    if args.odds:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        print("\n".join(odds(seed=args.seed)))
        return
    config = Config(
        items=args.items,
        overlap=args.overlap,
        gold_percent=args.gold_percent,
        seed=args.seed,
        pause=not args.no_pause,
    )
    fresh_database(args.url)
    try:
        figures = simulate(config, progress=lambda n: print(f"  {n:,} labels", flush=True))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(args.url)
    print("\n".join(report(figures)))
    print(json.dumps({key: value for key, value in figures.items() if key != "experts"}))


if __name__ == "__main__":
    main()
