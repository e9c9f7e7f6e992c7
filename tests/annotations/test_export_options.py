import io
import json
import uuid
from collections import Counter

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotations.exports import PairOptions, parse_splits, split_of
from annotations.exports.pairs import export_pairs
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.models import AuditEvent
from projects.models import Project
from tests.conftest import api_for, member
from tests.factories import FixedDraws, ItemFactory


def judge(project, expert, choice, strength=None):
    assignment = assignment_next(project=project, expert=expert)
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, strength, ""),
        idempotency_key=uuid.uuid4(),
    )


def rows(project, **options) -> list[dict]:
    return [json.loads(line) for line in export_pairs(project, PairOptions(**options))]


@pytest.fixture
def voted(acme):
    """Three experts on two items: a-0 votes A, A, B; a-1 votes A, B, tie (no majority)."""
    acme.labels_per_item = 3
    acme.save()
    for n in range(2):
        ItemFactory(project=acme, external_id=f"a-{n}")
    experts = [member(acme, f"voter{n}", "expert") for n in range(3)]
    for expert, (first, second) in zip(experts, [("A", "A"), ("A", "B"), ("B", "tie")], strict=True):
        judge(acme, expert, first, 3 if first == "A" else 1)
        judge(acme, expert, second, 2 if second != "tie" else None)
    return acme


def test_without_aggregation_each_preferring_judgment_is_a_pair_with_its_agreement(voted):
    lines = rows(voted)
    assert [
        (r["item_id"], r["chosen"].startswith("First"), r["agreement"], r["n_annotations"]) for r in lines
    ] == [
        ("a-0", True, 0.6667, 3),
        ("a-0", True, 0.6667, 3),
        ("a-0", False, 0.3333, 3),
        ("a-1", True, 0.3333, 3),
        ("a-1", False, 0.3333, 3),
    ]
    assert lines[0]["chosen_model"] == "model-x" and lines[0]["rejected_model"] == "model-y"


def test_majority_gives_one_pair_per_item_with_a_clear_majority(voted):
    (line,) = rows(voted, aggregate="majority")
    assert (line["item_id"], line["id"], len(line["annotators"]), line["agreement"]) == (
        "a-0",
        "a-0:majority",
        2,
        0.6667,
    )
    assert line["strength"] == "much"


def test_filters_on_agreement_and_number_of_judgments(voted):
    assert {r["item_id"] for r in rows(voted, min_agreement=0.5)} == {"a-0"}
    assert rows(voted, min_annotations=4) == []


def test_margin_follows_the_strength_on_every_row(voted):
    assert [r["margin"] for r in rows(voted, margin=True)] == [3.0, 3.0, 1.0, 2.0, 2.0]
    assert "margin" not in rows(voted)[0]


def test_splits_come_from_the_prompt_so_no_prompt_is_in_two_splits(acme, annotator):
    acme.labels_per_item = 1
    acme.save()
    for n in range(60):
        ItemFactory(project=acme, external_id=f"s-{n}", prompt=f"Shared prompt {n % 20}")
    for _ in range(60):
        judge(acme, annotator, "A", 1)
    lines = rows(acme, splits=(("test", 0.2), ("validation", 0.2)))
    by_prompt: dict[str, set[str]] = {}
    for line in lines:
        by_prompt.setdefault(line["prompt_id"], set()).add(line["split"])
    assert all(len(splits) == 1 for splits in by_prompt.values())
    assert {line["split"] for line in lines} == {"train", "test", "validation"}
    assert b"".join(export_pairs(acme, PairOptions(splits=(("test", 0.2),)))) == b"".join(
        export_pairs(acme, PairOptions(splits=(("test", 0.2),)))
    )


def test_split_assignment_is_stable_and_parsed_strictly():
    assert split_of("0" * 16, (("test", 0.1),)) == "test" and split_of("f" * 16, (("test", 0.1),)) == "train"
    assert parse_splits("test=0.1, validation=0.05") == (("test", 0.1), ("validation", 0.05))
    for bad in ("test", "test=x"):
        with pytest.raises(ValueError, match="name=share"):
            parse_splits(bad)
    with pytest.raises(ValueError):
        PairOptions(splits=(("test", 0.6), ("validation", 0.5)))


def test_style_can_be_forced_conversational_but_not_standard_over_chat_prompts(acme, annotator):
    ItemFactory(project=acme, external_id="plain", prompt="Plain?")
    judge(acme, annotator, "A", 1)
    assert rows(acme, style="conversational")[0]["prompt"] == [{"role": "user", "content": "Plain?"}]
    ItemFactory(project=acme, external_id="chat", is_chat=True, prompt=[{"role": "user", "content": "Hi"}])
    judge(acme, annotator, "A", 1)
    with pytest.raises(ValueError, match="chat prompts"):
        rows(acme, style="standard")


def test_the_command_takes_the_options_and_says_what_is_wrong(voted, tmp_path):
    target = tmp_path / "pairs.jsonl"
    call_command(
        "export_dataset",
        voted.slug,
        "--aggregate",
        "majority",
        "--margin",
        "--split",
        "test=0.5",
        "--min-agreement",
        "0.5",
        "-o",
        str(target),
    )
    (line,) = [json.loads(text) for text in target.read_text().splitlines()]
    assert line["margin"] == 3.0 and line["split"] in ("train", "test")
    with pytest.raises(CommandError, match="name=share"):
        call_command("export_dataset", voted.slug, "--split", "test", "-o", str(target))


def test_the_download_takes_the_same_options_and_refuses_bad_ones_clearly(client, manager, voted):
    from django.urls import reverse

    client.force_login(manager)
    url = reverse("annotations:export", args=[voted.code])
    response = client.post(url, {"format": "pairs", "aggregate": "majority", "margin": "on"})
    assert b"".join(response.streaming_content) == b"".join(
        export_pairs(voted, PairOptions(aggregate="majority", margin=True))
    )
    refused = client.post(url, {"format": "pairs", "split": "test=2"})
    assert refused.status_code == 400 and "between 0 and 1" in refused.content.decode()


def test_an_export_the_options_cannot_give_is_refused_before_it_reads_any_row(acme, annotator):
    from annotations.exports import export_lines

    ItemFactory(project=acme, external_id="chat", is_chat=True, prompt=[{"role": "user", "content": "Hi"}])
    judge(acme, annotator, "A", 1)
    with pytest.raises(ValueError, match="chat prompts"):
        export_lines(acme, "pairs", PairOptions(style="standard"))
    # A checked export reads nothing yet: the connection is free (e.g. to audit) until it is iterated.
    lines = export_lines(acme, "pairs", PairOptions())
    acme.refresh_from_db()
    assert [json.loads(line)["item_id"] for line in lines] == ["chat"]


# The outvoted project: two reliable experts and three who answer A whatever they are shown.
RELIABLE, ALWAYS_A = ("reliable0", "reliable1"), ("always_a0", "always_a1", "always_a2")
# What the reliable experts answer on each item; the g items are gold checks, answered so.
RELIABLE_SAY = {"g0": "B", "g1": "B", "g2": "tie", "i0": "A", "i1": "B", "i2": "A", "i3": "B", "t0": "tie"}


def judge_items(project, expert, choices: dict[str, str]) -> None:
    """`expert` answers every item served to them, as `choices` says for its external id."""
    # Gold checks are served only when due: with these draws, whenever one is.
    while (assignment := assignment_next(project=project, expert=expert, rng=FixedDraws(0.0))) is not None:
        choice = choices[assignment.item.external_id]
        annotation_submit(
            assignment=assignment,
            expert=expert,
            judgment=Judgment(choice, None if choice == "tie" else 2, ""),
            idempotency_key=uuid.uuid4(),
        )


@pytest.fixture
def outvoted(acme):
    """On i1 and i3 the reliable experts say B and the three always-A experts outvote them; the
    gold checks show what the always-A experts' A is worth."""
    acme.labels_per_item, acme.gold_percent = 5, 50
    acme.save()
    for external_id, choice in RELIABLE_SAY.items():
        gold = external_id.startswith("g")
        ItemFactory(
            project=acme,
            external_id=external_id,
            is_gold=gold,
            gold_answer={"preference": choice.lower()} if gold else None,
        )
    for username in RELIABLE:
        judge_items(acme, member(acme, username, "expert"), RELIABLE_SAY)
    for username in ALWAYS_A:
        judge_items(acme, member(acme, username, "expert"), dict.fromkeys(RELIABLE_SAY, "A"))
    assert acme.annotations.count() == 5 * len(RELIABLE_SAY)
    return acme


def test_dawid_skene_gives_a_pair_per_item_as_the_consensus_decides_not_as_the_majority_votes(outvoted):
    from quality.consensus import dawid_skene

    judgments = pd.DataFrame(
        [
            (item, expert, (RELIABLE_SAY[item] if expert in RELIABLE else "A").lower())
            for item in RELIABLE_SAY
            for expert in RELIABLE + ALWAYS_A
        ],
        columns=["item", "expert", "label"],
    )
    consensus = dawid_skene(judgments, gold={"g0": "b", "g1": "b", "g2": "tie"}).items
    expected = [
        (item, "First" if decided.label == "a" else "Second", round(decided.confidence, 4))
        for item, decided in consensus.iterrows()
        if decided.label in ("a", "b")
    ]
    lines = rows(outvoted, aggregate="dawid_skene")
    assert [(r["item_id"], r["chosen"].split()[0], r["confidence"]) for r in lines] == expected
    assert [(r["item_id"], r["chosen"].split()[0]) for r in lines] == [
        ("g0", "Second"),
        ("g1", "Second"),
        ("i0", "First"),
        ("i1", "Second"),
        ("i2", "First"),
        ("i3", "Second"),
    ]  # g2 and t0 are ties: no pair
    # The majority follows the three who always say A.
    assert {r["item_id"]: r["chosen"].split()[0] for r in rows(outvoted, aggregate="majority")}[
        "i1"
    ] == "First"

    i1 = lines[3]
    assert i1["id"] == "i1:dawid_skene" and list(i1)[-1] == "confidence"
    assert len(i1["annotators"]) == 2 and (i1["agreement"], i1["n_annotations"]) == (0.4, 5)
    assert i1["strength"] == "clearly"
    assert all(0.5 < r["confidence"] <= 1 for r in lines)
    assert [r["confidence"] for r in lines[:2]] == [1.0, 1.0]  # gold answers are held, not estimated
    assert "confidence" not in rows(outvoted, aggregate="majority")[0]


def test_dawid_skene_drops_items_by_agreement_and_number_of_judgments_as_majority_does(outvoted):
    kept = rows(outvoted, aggregate="dawid_skene", min_agreement=0.5)
    assert [r["item_id"] for r in kept] == ["i0", "i2"]  # the others have 2 of 5 judgments for them
    assert rows(outvoted, aggregate="dawid_skene", min_annotations=6) == []


def test_dawid_skene_accounts_for_every_judgment_it_leaves_out(outvoted):
    tally = Counter()
    lines = list(export_pairs(outvoted, PairOptions(aggregate="dawid_skene"), tally))
    assert (tally["kept"], tally["judgments kept"]) == (len(lines), 2 * 2 + 2 * 2 + 5 * 2)
    assert tally["dropped: no consensus for a or b"] == 2 * 3  # the A judgments on g2 and t0
    assert tally["dropped: tie or both bad"] == 2 * 2
    assert tally["dropped: outvoted"] == 4 * 3  # the always-A judgments on g0, g1, i1 and i3
    assert tally["judgments kept"] + sum(n for key, n in tally.items() if key.startswith("dropped")) == 40


def test_a_gold_answer_nobody_gave_makes_no_pair(acme, annotator):
    acme.gold_percent = 50
    acme.save()
    ItemFactory(project=acme, external_id="g", is_gold=True, gold_answer={"preference": "b"})
    ItemFactory(project=acme, external_id="r")  # gold checks are served among real work
    judge_items(acme, annotator, {"g": "A", "r": "B"})
    tally = Counter()
    assert [
        json.loads(line)["item_id"]
        for line in export_pairs(acme, PairOptions(aggregate="dawid_skene"), tally)
    ] == ["r"]
    assert tally["dropped: no judgment for the consensus"] == 1


def test_dawid_skene_is_refused_on_a_project_that_only_rates(client, manager, acme, annotator, tmp_path):
    from annotations.exports import export_lines

    acme.kind = Project.Kind.RUBRIC
    acme.save()
    with pytest.raises(ValueError, match="aggregate dawid_skene weighs the experts' choices"):
        export_lines(acme, "pairs", PairOptions(aggregate="dawid_skene"))
    with pytest.raises(CommandError, match="only rates them on its rubric"):
        call_command("export_dataset", acme.slug, "--aggregate", "dawid_skene", "-o", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    client.force_login(manager)
    for options in ({"format": "pairs"}, {"format": "bundle"}):
        page = client.post(
            reverse("annotations:export", args=[acme.code]), {**options, "aggregate": "dawid_skene"}
        )
        assert page.status_code == 400 and "only rates them on its rubric" in page.content.decode()
    api = api_for(manager).get(
        reverse("annotations:api-export", args=[acme.slug]), {"format": "pairs", "aggregate": "dawid_skene"}
    )
    assert api.status_code == 400 and "only rates them on its rubric" in api.json()["non_field_errors"][0]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DOWNLOADED).exists()
    assert list(export_lines(acme, "pairs", PairOptions(aggregate="majority"))) == []


def test_the_command_the_page_and_the_api_give_the_dawid_skene_pairs(client, manager, outvoted, tmp_path):
    expected = b"".join(export_pairs(outvoted, PairOptions(aggregate="dawid_skene")))
    assert expected.count(b"\n") == 6
    target = tmp_path / "pairs.jsonl"
    call_command(
        "export_dataset", outvoted.slug, "--aggregate", "dawid_skene", "-o", str(target), stderr=io.StringIO()
    )
    assert target.read_bytes() == expected
    client.force_login(manager)
    page = client.post(
        reverse("annotations:export", args=[outvoted.code]), {"format": "pairs", "aggregate": "dawid_skene"}
    )
    assert page.status_code == 200 and b"".join(page.streaming_content) == expected
    api = api_for(manager).get(
        reverse("annotations:api-export", args=[outvoted.slug]),
        {"format": "pairs", "aggregate": "dawid_skene"},
    )
    assert api.status_code == 200 and b"".join(api.streaming_content) == expected
