import io
import json
import uuid

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.exports import FORMATS, PairOptions, export_lines
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from labelhub.pseudonyms import annotator_pseudonym
from tests.factories import ItemFactory


def judge(project, expert, choice, strength=None, rationale="", **measured):
    assignment = assignment_next(project=project, expert=expert)
    annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=Judgment(choice, strength, rationale, **measured),
        idempotency_key=uuid.uuid4(),
    )
    return assignment


def rows(project, fmt) -> list[dict]:
    return [json.loads(line) for line in export_lines(project, fmt)]


@pytest.fixture
def judged(acme, acme_items, annotator):
    """a-0: A much better; a-1: tie; a-2: both bad; a-3: skipped; a-4 untouched."""
    judge(acme, annotator, "A", 3, "A cites the statute")
    judge(acme, annotator, "tie")
    judge(acme, annotator, "both_bad")
    assignment_skip(
        assignment=assignment_next(project=acme, expert=annotator),
        expert=annotator,
        reason="expertise",
        note="tax law",
    )
    return acme


def test_kto_marks_the_preferred_response_desirable_and_both_bad_undesirable(judged, annotator):
    lines = rows(judged, "kto")
    assert [(r["item_id"], r["completion"], r["label"]) for r in lines] == [
        ("a-0", "First answer to a-0", True),
        ("a-0", "Second answer to a-0", False),
        ("a-2", "First answer to a-2", False),
        ("a-2", "Second answer to a-2", False),
    ]
    assert list(lines[0]) == ["prompt", "completion", "label", "id", "item_id", "annotator"]
    assert lines[0]["annotator"] == annotator_pseudonym(project_id=judged.pk, user_id=annotator.pk)
    assert len({r["id"] for r in lines}) == 4


def test_the_annotations_export_has_every_judgment_and_every_skip(judged, annotator):
    lines = rows(judged, "annotations")
    assert [(r["item_id"], r["outcome"]) for r in lines] == [
        ("a-0", "a"),
        ("a-1", "tie"),
        ("a-2", "both_bad"),
        ("a-3", "skip"),
    ]
    first, skip = lines[0], lines[3]
    assert list(first) == [
        "item_id",
        "annotator",
        "outcome",
        "strength",
        "rationale",
        "shown_order",
        "active_seconds",
        "pasted_chars",
        "submitted_at",
        "guideline_version",
        "gold",
        "expert_paused",
        # Added by the quality app (its signals), after the format's own.
        "chose_left",
        "chose_longer",
        "seconds_per_1k_chars",
        "too_fast",
        "paste_share",
        "rationale_repeated",
        "rationale_short",
    ]
    assert (first["strength"], first["rationale"], first["shown_order"], first["guideline_version"]) == (
        "much",
        "A cites the statute",
        [0, 1],
        1,
    )
    assert (skip["rationale"], skip["shown_order"], skip["strength"]) == (
        "Outside my expertise: tax law",
        [0, 1],
        None,
    )
    assert annotator.username not in json.dumps(lines)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_each_column_one_type_and_the_same_bytes_twice(judged, fmt):
    lines = rows(judged, fmt)
    for key in lines[0] if lines else []:
        kinds = {type(line[key]).__name__ for line in lines if line[key] is not None}
        assert len(kinds) <= 1, (fmt, key, kinds)
    assert b"".join(export_lines(judged, fmt)) == b"".join(export_lines(judged, fmt))


def test_chat_prompts_make_kto_conversational(acme, annotator):
    ItemFactory(project=acme, external_id="c", is_chat=True, prompt=[{"role": "user", "content": "Hi?"}])
    judge(acme, annotator, "B", 1)
    first = rows(acme, "kto")[0]
    assert first["prompt"] == [{"role": "user", "content": "Hi?"}]
    assert first["completion"] == [{"role": "assistant", "content": "First answer to c"}]


@pytest.mark.parametrize("fmt", ["kto", "annotations"])
def test_the_command_and_the_download_offer_the_new_formats(client, manager, judged, fmt, tmp_path):
    target = tmp_path / f"{fmt}.jsonl"
    call_command("export_dataset", judged.slug, "--format", fmt, "-o", str(target), stderr=io.StringIO())
    client.force_login(manager)
    response = client.post(reverse("annotations:export", args=[judged.code]), {"format": fmt})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == target.read_bytes() != b""


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "fmt, options",
    [(fmt, PairOptions()) for fmt in FORMATS]
    + [("pairs", PairOptions(aggregate=aggregate)) for aggregate in ("majority", "dawid_skene")],
    ids=[*FORMATS, "pairs-majority", "pairs-dawid_skene"],
)
def test_postgresql_s_streamed_statements_and_the_orm_give_the_same_bytes(
    judged, annotator, annotator2, monkeypatch, fmt, options
):
    """PostgreSQL streams hand-written statements; other databases (the embedded default) read
    the same rows through the ORM. Both must write the same files."""
    # Timed and partly pasted: the annotations' added signal columns have values to compare.
    judge(judged, annotator2, "B", 1, "B is shorter", active_seconds=30, pasted_chars=5)
    judge(judged, annotator2, "A", 2, active_seconds=2)
    streamed = b"".join(export_lines(judged, fmt, options))
    monkeypatch.setattr("annotations.exports.base.on_postgresql", lambda: False)
    assert b"".join(export_lines(judged, fmt, options)) == streamed
    if fmt in ("pairs", "annotations"):
        assert streamed.count(b"\n") >= 3  # there is something to compare
