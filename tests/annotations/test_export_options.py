import json
import uuid

import pytest
from django.core.management import CommandError, call_command

from annotations.exports import PairOptions, parse_splits, split_of
from annotations.exports.pairs import export_pairs
from annotations.services import Judgment, annotation_submit, assignment_next
from tests.conftest import member
from tests.factories import ItemFactory


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
