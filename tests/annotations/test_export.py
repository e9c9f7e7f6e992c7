import io
import json
import random
import uuid

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.exports.pairs import export_pairs
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.pseudonyms import annotator_pseudonym
from tests.factories import ItemFactory

PAIR_KEYS = [
    "prompt",
    "chosen",
    "rejected",
    "id",
    "item_id",
    "prompt_id",
    "chosen_model",
    "rejected_model",
    "annotators",
    "n_annotations",
    "agreement",
    "strength",
    "split",
    "export_id",
    "guideline_version",
]


def label(project, expert, choice, strength=None):
    assignment = assignment_next(project=project, expert=expert)
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, strength, ""),
        idempotency_key=uuid.uuid4(),
    )
    return assignment


def rows(project) -> list[dict]:
    return [json.loads(line) for line in export_pairs(project)]


def test_pairs_have_exactly_the_trl_keys_and_put_the_preferred_response_first(acme, acme_items, annotator):
    label(acme, annotator, "A", 2)  # not randomised in tests: A is the item's first response
    label(acme, annotator, "B", 3)
    first, second = rows(acme)
    assert list(first) == PAIR_KEYS
    assert (first["chosen"], first["rejected"]) == ("First answer to a-0", "Second answer to a-0")
    assert (second["chosen"], second["rejected"]) == ("Second answer to a-1", "First answer to a-1")
    assert first["prompt"] == "Question number" + first["prompt"].removeprefix("Question number")
    assert (first["strength"], second["strength"]) == ("clearly", "much")
    assert first["item_id"] == "a-0"


def test_the_chosen_side_follows_the_item_not_the_screen(acme, acme_items, annotator):
    acme.randomize_sides = True
    acme.save()

    assignment = assignment_next(project=acme, expert=annotator, rng=random.Random(3))
    annotation_submit(
        assignment=assignment, expert=annotator, judgment=Judgment("A", 1, ""), idempotency_key=uuid.uuid4()
    )
    (row,) = rows(acme)
    shown_left_text = ["First answer to a-0", "Second answer to a-0"][assignment.shown_left]
    assert row["chosen"] == shown_left_text


def test_ties_and_both_bad_are_not_pairs(acme, acme_items, annotator):
    label(acme, annotator, "tie")
    label(acme, annotator, "both_bad")
    label(acme, annotator, "B", 1)
    assert [row["item_id"] for row in rows(acme)] == ["a-2"]


def test_annotators_are_pseudonymous_and_stable_per_project(acme, acme_items, annotator, annotator2):
    acme.labels_per_item = 2
    acme.save()
    label(acme, annotator, "A", 1)
    label(acme, annotator2, "A", 1)
    ids = [row["annotators"] for row in rows(acme)]
    assert ids == [
        [annotator_pseudonym(project_id=acme.pk, user_id=annotator.pk)],
        [annotator_pseudonym(project_id=acme.pk, user_id=annotator2.pk)],
    ]
    assert all("acme-expert" not in a[0] for a in ids)
    assert annotator_pseudonym(project_id=acme.pk + 1, user_id=annotator.pk) != ids[0][0]
    assert len({row["id"] for row in rows(acme)}) == 2


def test_a_chat_prompt_makes_every_row_conversational(acme, annotator):
    ItemFactory(project=acme, external_id="plain", prompt="Plain?")
    ItemFactory(
        project=acme,
        external_id="chat",
        is_chat=True,
        prompt=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi?"}],
    )
    label(acme, annotator, "A", 1)
    label(acme, annotator, "B", 1)
    plain, chat = rows(acme)
    assert plain["prompt"] == [{"role": "user", "content": "Plain?"}]
    assert chat["prompt"][0] == {"role": "system", "content": "Be kind."}
    assert chat["chosen"] == [{"role": "assistant", "content": "Second answer to chat"}]
    assert chat["rejected"] == [{"role": "assistant", "content": "First answer to chat"}]


def test_every_column_has_one_type_on_every_row(acme, annotator):
    for n in range(6):
        ItemFactory(project=acme, external_id=f"t{n}")
    for n in range(6):
        label(acme, annotator, "AB"[n % 2], n % 3 + 1)
    types = {key: {type(row[key]) for row in rows(acme)} for key in PAIR_KEYS}
    assert all(len(found) == 1 for found in types.values()), types


def test_two_exports_of_the_same_data_are_byte_identical(acme, acme_items, annotator):
    label(acme, annotator, "A", 1)
    label(acme, annotator, "B", 2)
    assert b"".join(export_pairs(acme)) == b"".join(export_pairs(acme))


def test_the_command_writes_a_file_that_json_reads_line_by_line(acme, acme_items, annotator, tmp_path):
    label(acme, annotator, "A", 2)
    target = tmp_path / "pairs.jsonl"
    err = io.StringIO()
    call_command("export_dataset", acme.slug, "--format", "pairs", "-o", str(target), stderr=err)
    lines = target.read_text().splitlines()
    assert len(lines) == 1 and list(json.loads(lines[0])) == PAIR_KEYS
    assert "1 pairs row(s)" in err.getvalue()
    assert not (tmp_path / "pairs.jsonl.partial").exists()


def test_a_manager_downloads_the_same_file_as_a_stream(client, manager, acme, acme_items, annotator):
    label(acme, annotator, "A", 2)
    client.force_login(manager)
    response = client.post(reverse("annotations:export", args=[acme.code]), {"format": "pairs"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="acme-helpfulness-pairs.jsonl"'
    assert b"".join(response.streaming_content) == b"".join(export_pairs(acme))


def test_a_client_viewer_may_download_but_an_unknown_format_is_refused(client, viewer, acme):
    client.force_login(viewer)
    assert (
        client.post(reverse("annotations:export", args=[acme.code]), {"format": "pairs"}).status_code == 200
    )
    assert client.post(reverse("annotations:export", args=[acme.code]), {"format": "csv"}).status_code == 400


@pytest.mark.parametrize("rows_wanted", [0, 3])
def test_the_progress_page_counts_items_and_labels(client, manager, acme, acme_items, annotator, rows_wanted):
    for _ in range(rows_wanted):
        label(acme, annotator, "A", 1)
    client.force_login(manager)
    page = client.get(reverse("annotations:project", args=[acme.code])).content.decode()
    assert 'data-testid="items">5<' in page
    assert f'data-testid="complete">{rows_wanted} (' in page
    assert f'data-testid="annotations">{rows_wanted}<' in page


def test_each_pair_line_is_the_json_module_s_own_bytes(acme, annotator):
    # Independent of the export's code: the line json.dumps writes for the row TRL expects.
    from annotations.exports import PairOptions, export_id_for, prompt_id

    chat = [{"role": "system", "content": "Sé bref.\n"}, {"role": "user", "content": 'Qu"oi ?\u2028'}]
    ItemFactory(
        project=acme, external_id="g-1", prompt=chat, is_chat=True, responses=[("ça\t1", "m-1"), ("2", "")]
    )
    label(acme, annotator, "B", 3)
    who = annotator_pseudonym(project_id=acme.pk, user_id=annotator.pk)
    expected = {
        "prompt": chat,
        "chosen": [{"role": "assistant", "content": "2"}],
        "rejected": [{"role": "assistant", "content": "ça\t1"}],
        "id": f"g-1:{who}",
        "item_id": "g-1",
        "prompt_id": prompt_id(chat),
        "chosen_model": "",
        "rejected_model": "m-1",
        "annotators": [who],
        "n_annotations": 1,
        "agreement": 1.0,
        "strength": "much",
        "split": "train",
        "export_id": export_id_for(acme, PairOptions()),
        "guideline_version": 1,
    }
    line = json.dumps(expected, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert b"".join(export_pairs(acme)) == line.encode()


def test_the_command_s_file_holds_the_export_s_bytes_past_its_write_buffer(acme, annotator, tmp_path):
    # Six items of 400 kB each: the file is written through several fills of its 1 MiB buffer.
    for n in range(6):
        ItemFactory(project=acme, external_id=f"big-{n}", responses=[(f"{n}" * 400_000, "a"), ("short", "b")])
        label(acme, annotator, "A", 1)
    target = tmp_path / "pairs.jsonl"
    call_command("export_dataset", acme.slug, "-o", str(target), stderr=io.StringIO())
    data = target.read_bytes()
    assert len(data) > 2_400_000 and data == b"".join(export_pairs(acme))
