import json
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotations.services import Judgment, annotation_submit, assignment_next
from projects.importing import parse_items
from projects.models import Item, Response


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def row(item_id: str, prompt="What is 2 + 2?", **extra) -> dict:
    return {
        "id": item_id,
        "prompt": prompt,
        "responses": [{"content": "4", "model": "m1"}, {"content": "5", "model": "m2"}],
        **extra,
    }


def run_import(*args: str) -> tuple[str, str]:

    out, err = StringIO(), StringIO()
    call_command("import_items", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_imports_plain_and_chat_prompts_with_their_responses(acme, tmp_path):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    path = write_jsonl(
        tmp_path / "items.jsonl",
        [
            row("q1", domain="Math", metadata={"source": "unit"}),
            row("q2", prompt=chat),
        ],
    )
    out, _ = run_import("acme-helpfulness", str(path))
    assert "2 created, 0 updated, 0 unchanged" in out
    q1, q2 = Item.objects.filter(project=acme).order_by("external_id")
    assert (q1.is_chat, q1.domain, q1.metadata) == (False, "math", {"source": "unit"})
    assert q2.is_chat and q2.prompt == chat
    assert [(r.position, r.content, r.model) for r in q1.responses.all()] == [(0, "4", "m1"), (1, "5", "m2")]


def test_it_imports_csv_with_the_documented_header(acme, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(
        'id,prompt,response_a,response_b,model_a,model_b,domain\nc1,"Say ""hi""","hi","hello",m1,m2,law\n'
    )
    out, _ = run_import("acme-helpfulness", str(path))
    assert "1 created" in out
    item = Item.objects.get(project=acme, external_id="c1")
    assert item.prompt == 'Say "hi"' and item.domain == "law"
    assert list(item.responses.values_list("content", "model")) == [("hi", "m1"), ("hello", "m2")]


def test_a_file_with_bad_lines_reports_every_problem_with_its_line_and_stores_nothing(acme, tmp_path):
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            row("ok-1"),
            "{not json",
            row("x", prompt=""),
            {"id": "y", "prompt": "p", "responses": [{"content": "only one"}]},
            row("ok-1"),
            {**row("z"), "colour": "red"},
            row("w", prompt=[{"role": "robot", "content": "hi"}]),
        ],
    )
    with pytest.raises(CommandError) as failure:
        run_import("acme-helpfulness", str(path))
    assert failure.value.returncode == 1
    assert "nothing was imported" in str(failure.value)
    assert Item.objects.count() == 0 and Response.objects.count() == 0


def test_the_errors_are_printed_as_file_line_message(acme, tmp_path, capsys):
    path = write_jsonl(tmp_path / "bad.jsonl", [row("ok"), "{not json", row("x", prompt="")])

    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_items", "acme-helpfulness", str(path), stdout=StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"{path}:2: invalid JSON")
    assert lines[1] == f"{path}:3: 'prompt' must not be empty"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": "a", "prompt": "p", "responses": "x"}, "'responses' must be a list"),
        ({"id": "a", "prompt": "p", "responses": [{"content": "1"}, {"content": "1"}]}, "identical"),
        (
            {"id": "a", "prompt": "p", "responses": [{"content": "1"}, {"content": "2"}, {"content": "3"}]},
            "exactly 2 responses",
        ),
        (
            {
                "id": "a",
                "prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                "responses": [{"content": "1"}, {"content": "2"}],
            },
            "must end with a 'user' message",
        ),
        ({"prompt": "p", "responses": [{"content": "1"}, {"content": "2"}]}, "missing field 'id'"),
        (
            {"id": "a", "prompt": "p", "responses": [{"content": "1", "score": 3}, {"content": "2"}]},
            "'responses[0]' has unknown field(s): score",
        ),
        (
            {"id": "a", "prompt": "p", "metadata": [1], "responses": [{"content": "1"}, {"content": "2"}]},
            "'metadata' must be an object",
        ),
    ],
)
def test_each_kind_of_bad_item_gets_a_clear_message(acme, tmp_path, bad, message):

    result = parse_items(json.dumps(bad), fmt="jsonl")
    assert result.items == []
    assert len(result.errors) == 1 and message in result.errors[0].message
    assert result.errors[0].line == 1


def test_a_csv_with_a_wrong_header_is_refused(acme, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("id,question,response_a,response_b\n1,q,a,b\n")
    with pytest.raises(CommandError):
        run_import("acme-helpfulness", str(path))
    assert Item.objects.count() == 0


def test_reimporting_the_same_items_skips_them(acme, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [row("q1"), row("q2")])
    run_import("acme-helpfulness", str(path))
    write_jsonl(path, [row("q1"), row("q2"), row("q3")])
    out, _ = run_import("acme-helpfulness", str(path))
    assert "1 created, 0 updated, 2 unchanged" in out
    assert Item.objects.filter(project=acme).count() == 3


def test_changed_content_is_an_error_unless_update_is_asked(acme, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [row("q1")])
    run_import("acme-helpfulness", str(path))
    write_jsonl(path, [row("q1", prompt="What is 3 + 3?")])
    with pytest.raises(CommandError):
        run_import("acme-helpfulness", str(path))
    assert Item.objects.get(external_id="q1").prompt == "What is 2 + 2?"

    out, _ = run_import("acme-helpfulness", str(path), "--update")
    assert "0 created, 1 updated" in out
    assert Item.objects.get(external_id="q1").prompt == "What is 3 + 3?"


def test_update_refuses_to_change_an_item_that_has_annotations(acme, annotator, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [row("q1")])
    run_import("acme-helpfulness", str(path))
    assignment = assignment_next(project=acme, expert=annotator)

    annotation_submit(
        assignment=assignment, expert=annotator, judgment=Judgment("A", 2, ""), idempotency_key=uuid.uuid4()
    )
    write_jsonl(path, [row("q1", prompt="Changed?")])
    with pytest.raises(CommandError):
        run_import("acme-helpfulness", str(path), "--update")
    assert Item.objects.get(external_id="q1").prompt == "What is 2 + 2?"


def test_an_unknown_project_or_file_is_a_clear_error(acme, tmp_path):
    with pytest.raises(CommandError, match="no project with slug 'nope'"):
        run_import("nope", str(tmp_path / "x.jsonl"))
    with pytest.raises(CommandError, match="no such file"):
        run_import("acme-helpfulness", str(tmp_path / "missing.jsonl"))


def json_dumps_hash(prompt, responses, domain="", metadata=None) -> str:
    """The content hash as first defined (and stored): sha256 of json.dumps' canonical form."""
    import hashlib

    canonical = json.dumps(
        [prompt, responses, domain, metadata or {}], sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"source": "unit", "b": 1, "a": [True, None, -3]},
        {"ratio": 1e-05, "tiny": 1.5e-7, "big": 1e16, "half": 0.5},
        {"huge": 123456789012345678901234567890},
        {"zürich": "naïve — ☃ \U0001f600", "ctrl": "tab\there\x01\x7f\u2028", "é": 1, "e": 2},
    ],
)
def test_the_content_hash_stays_the_one_stored_by_earlier_imports(metadata):
    line = json.dumps(
        {
            "id": "h1",
            "prompt": [{"role": "system", "content": "Sé breve.\n"}, {"role": "user", "content": 'Qu"oi ?'}],
            "responses": [{"content": "4\u00a0", "model": "m1"}, {"content": "5", "model": None}],
            "domain": "Law",
            "metadata": metadata,
        }
    )
    (record,) = parse_items(line.encode(), fmt="jsonl").items
    expected = json_dumps_hash(record.prompt, [["4\u00a0", "m1"], ["5", ""]], "law", metadata)
    assert record.metadata == metadata
    assert record.content_hash == expected


def test_numbers_are_read_as_python_json_reads_them(acme, tmp_path):
    # NaN and integers past 64 bits are JSON that Python reads (faster readers refuse or round them).
    path = write_jsonl(
        tmp_path / "items.jsonl",
        [
            '{"id": 123456789012345678901234567890, "prompt": "p", "metadata": {"n": 98765432109876543210},'
            ' "responses": [{"content": "1"}, {"content": "2"}]}',
            row("small", metadata={"ratio": 1e-05}),
        ],
    )
    out, _ = run_import("acme-helpfulness", str(path))
    assert "2 created" in out
    item = Item.objects.get(project=acme, external_id="123456789012345678901234567890")
    assert item.metadata == {"n": 98765432109876543210}
    assert Item.objects.get(project=acme, external_id="small").metadata == {"ratio": 1e-05}
    out, _ = run_import("acme-helpfulness", str(path))
    assert "0 created, 0 updated, 2 unchanged" in out


def test_bad_lines_among_many_good_ones_keep_their_line_numbers_and_messages(tmp_path):
    lines = [json.dumps(row(f"q{n}")) for n in range(1, 1001)]
    lines[10] = '{"id": "x", "prompt": "p",, "responses": []}'
    lines[499] = json.dumps(row("y", prompt=[]))
    lines[500] = ""  # blank lines are skipped but still counted
    lines[998] = json.dumps({**row("z"), "responses": [{"content": "1", "model": 7}, {"content": "2"}]})
    result = parse_items("\n".join(lines).encode(), fmt="jsonl")
    assert [(e.line, e.message) for e in result.errors] == [
        (11, "invalid JSON: Expecting property name enclosed in double quotes (column 27)"),
        (500, "'prompt' must not be an empty list"),
        (999, "'responses[0]'.model must be a string, got int"),
    ]
    assert len(result.items) == 996


def test_progress_is_told_of_every_stored_item_batch_by_batch(acme):
    from projects.services import items_import

    records = parse_items("\n".join(json.dumps(row(f"q{n}")) for n in range(5)), fmt="jsonl").items
    told: list[int] = []
    report = items_import(project=acme, records=records, batch_size=2, on_stored=told.append)
    assert report.created == 5 and told == [2, 2, 1]
    assert Response.objects.filter(item__project=acme).count() == 10


def test_items_carry_their_priority_from_jsonl_and_csv_and_it_is_not_content(acme, tmp_path):
    run_import(
        "acme-helpfulness", str(write_jsonl(tmp_path / "items.jsonl", [row("p1", priority=7), row("p0")]))
    )
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("id,prompt,response_a,response_b,priority\nc1,q,a,b,-3\nc2,q,a,b,\n")
    run_import("acme-helpfulness", str(csv_path))
    priorities = dict(Item.objects.filter(project=acme).values_list("external_id", "priority"))
    assert priorities == {"p1": 7, "p0": 0, "c1": -3, "c2": 0}
    # Serving order comes from it, so it is no part of what makes an item the same item.
    same = parse_items(json.dumps(row("p1", priority=1)), fmt="jsonl").items[0]
    assert same.content_hash == Item.objects.get(project=acme, external_id="p1").content_hash


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        (
            "jsonl",
            json.dumps(row("a", priority="high")),
            "1: 'priority' must be a whole number, got str",
        ),
        (
            "jsonl",
            json.dumps(row("a", priority=True)),
            "1: 'priority' must be a whole number, got a boolean",
        ),
        (
            "jsonl",
            json.dumps(row("a", priority=10**7)),
            "1: 'priority' must be between -1,000,000 and 1,000,000",
        ),
        (
            "csv",
            "id,prompt,response_a,response_b,priority\nc1,q,a,b,soon\n",
            "2: 'priority' must be a whole number, got 'soon'",
        ),
    ],
)
def test_a_bad_priority_is_refused_with_its_line(fmt, text, message):
    result = parse_items(text, fmt=fmt)
    assert result.items == [] and [e.format("items") for e in result.errors] == [f"items:{message}"]


def test_gold_checks_come_in_with_their_expected_answer_from_jsonl_and_csv(acme, tmp_path):
    run_import(
        "acme-helpfulness", str(write_jsonl(tmp_path / "items.jsonl", [row("g1", gold="b"), row("w1")]))
    )
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("id,prompt,response_a,response_b,gold\ng2,q,a,b,tie\nw2,q,a,b,\n")
    run_import("acme-helpfulness", str(csv_path))
    items = {i.external_id: (i.is_gold, i.gold_answer) for i in Item.objects.filter(project=acme)}
    assert items == {
        "g1": (True, {"preference": "b"}),
        "g2": (True, {"preference": "tie"}),
        "w1": (False, None),
        "w2": (False, None),
    }
    # The answer is part of the item: the same id with another answer is a change, not a repeat.
    with pytest.raises(CommandError):
        run_import("acme-helpfulness", str(write_jsonl(tmp_path / "again.jsonl", [row("g1", gold="a")])))


@pytest.mark.parametrize(
    ("kind", "gold", "message"),
    [
        ("pairwise", "A", "1: 'gold' must be one of a, b, tie, both_bad (the expected answer), got 'A'"),
        ("pairwise", 1, "1: 'gold' must be one of a, b, tie, both_bad (the expected answer), got 1"),
        ("rubric", "a", "1: 'gold' answers a comparison; a rubric project's items have none"),
    ],
)
def test_a_bad_gold_answer_is_refused_with_its_line(kind, gold, message):
    result = parse_items(json.dumps(row("g", gold=gold)), fmt="jsonl", kind=kind)
    assert result.items == [] and [e.format("items") for e in result.errors] == [f"items:{message}"]


def item_id_sequence_value() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM projects_item_id_seq")
        return cursor.fetchone()[0]


@pytest.mark.postgres_only
def test_errors_found_after_rows_were_sent_are_all_reported_and_nothing_is_stored(acme, tmp_path):
    # The import sends rows to PostgreSQL while it reads the file: here 3,000 good items are on
    # their way before the first bad line, and more good ones follow the bad ones.
    rows: list = [row(f"ok-{n}") for n in range(3000)]
    rows += ["{not json", row("ok-5"), row("empty", prompt="")]
    rows += [row(f"late-{n}") for n in range(500)]
    rows.append({**row("z"), "colour": "red"})
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    err = StringIO()
    with pytest.raises(CommandError, match="4 error"):
        call_command("import_items", "acme-helpfulness", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        f"{path}:3001: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:3002: duplicate id 'ok-5' (first on line 6)",
        f"{path}:3003: 'prompt' must not be empty",
        f"{path}:3504: unknown field(s): colour",
    ]
    assert Item.objects.count() == 0 and Response.objects.count() == 0
    # The same project takes a good file afterwards: nothing of the refused one is left over.
    out, _ = run_import("acme-helpfulness", str(write_jsonl(tmp_path / "good.jsonl", rows[:3000])))
    assert "3000 created" in out
    assert Response.objects.filter(item__project=acme).count() == 6000


@pytest.mark.postgres_only
def test_conflicts_with_stored_items_after_new_ones_store_nothing(acme, tmp_path):
    run_import("acme-helpfulness", str(write_jsonl(tmp_path / "first.jsonl", [row("q1"), row("q2")])))
    path = write_jsonl(
        tmp_path / "second.jsonl",
        [row(f"new-{n}") for n in range(2500)] + [row("q1", prompt="Changed?"), row("q2", prompt="Also?")],
    )
    err = StringIO()
    with pytest.raises(CommandError, match="2 error"):
        call_command("import_items", "acme-helpfulness", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        f"{path}:2501: item 'q1' already exists with different content (use --update to replace it)",
        f"{path}:2502: item 'q2' already exists with different content (use --update to replace it)",
    ]
    assert sorted(Item.objects.values_list("external_id", flat=True)) == ["q1", "q2"]
    assert Response.objects.count() == 4


@pytest.mark.postgres_only
def test_streamed_items_keep_the_file_order_and_their_own_responses(acme, tmp_path):
    run_import("acme-helpfulness", str(write_jsonl(tmp_path / "first.jsonl", [row("old")])))
    rows = [
        {**row(f"n{n}"), "responses": [{"content": f"a{n}", "model": "m"}, {"content": f"b{n}"}]}
        for n in range(2100)
    ]
    rows.insert(700, row("old"))  # stored already: skipped, and the order of the rest is kept
    told: list[int] = []
    from projects.importing import read_items
    from projects.services import items_import_stream

    data = "\n".join(json.dumps(r) for r in rows).encode()
    report = items_import_stream(
        project=acme, stream=read_items(data, fmt="jsonl"), batch_size=1000, on_stored=told.append
    )
    assert (report.created, report.unchanged, told) == (2100, 1, [1000, 1000, 100])
    items = list(Item.objects.filter(project=acme).exclude(external_id="old").order_by("id"))
    assert [i.external_id for i in items] == [f"n{n}" for n in range(2100)]
    pairs = {
        (external_id, position): content
        for external_id, position, content in Response.objects.filter(item__in=items).values_list(
            "item__external_id", "position", "content"
        )
    }
    assert pairs == {(f"n{n}", p): f"{'ab'[p]}{n}" for n in range(2100) for p in (0, 1)}


@pytest.mark.postgres_only
def test_a_reimport_of_stored_items_takes_no_new_ids(acme, tmp_path):
    path = write_jsonl(tmp_path / "items.jsonl", [row(f"q{n}") for n in range(50)])
    run_import("acme-helpfulness", str(path))
    before = item_id_sequence_value()
    out, _ = run_import("acme-helpfulness", str(path))
    assert "0 created, 0 updated, 50 unchanged" in out
    assert item_id_sequence_value() == before


@pytest.mark.postgres_only
def test_csv_records_over_several_lines_and_any_line_ending_are_all_stored(acme, tmp_path):
    # The ids are reserved before reading, from the number of line ends (\n, \r or \r\n); a
    # record may also span several lines.
    header = "id,prompt,response_a,response_b"
    path = tmp_path / "items.csv"
    path.write_text(header + "".join(f"\rc{n},q{n},a{n},b{n}" for n in range(300)), newline="")
    out, _ = run_import("acme-helpfulness", str(path))
    assert "300 created" in out
    path.write_text(header + "".join(f'\r\nm{n},"one\ntwo",a,b' for n in range(100)), newline="")
    out, _ = run_import("acme-helpfulness", str(path))
    assert "100 created" in out
    assert Item.objects.get(project=acme, external_id="m99").prompt == "one\ntwo"
    assert Response.objects.filter(item__project=acme).count() == 800


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (row("q1", prompt="a\x00b"), "'prompt' must not hold a NUL character"),
        ({**row("q1"), "responses": [{"content": "4\x00"}, {"content": "5"}]}, "'responses[0]'.content"),
        (
            {**row("q1"), "responses": [{"content": "4", "model": "m\x00"}, {"content": "5"}]},
            ".model must not",
        ),
        (row("q1\x00"), "'id' must not hold a NUL character"),
        (row("q1", domain="med\x00"), "'domain' must not hold a NUL character"),
        (row("q1", metadata={"source": ["ok", "x\x00"]}), "'metadata' must not hold a NUL character"),
        (row("q1", metadata={"k\x00": 1}), "'metadata' must not hold a NUL character"),
        (row("q1", metadata=0), "'metadata' must be an object"),
        (row("q1", metadata=""), "'metadata' must be an object"),
    ],
)
def test_text_postgresql_cannot_store_and_metadata_that_is_no_object_are_refused(acme, bad, message):
    result = parse_items(json.dumps(bad), fmt="jsonl")
    assert result.items == [] and len(result.errors) == 1
    assert message in result.errors[0].message and result.errors[0].line == 1


def test_an_id_is_measured_as_sent(acme):
    result = parse_items(json.dumps(row("q" + " " * 200)), fmt="jsonl")
    assert "'id' is longer than 200 characters" in result.errors[0].message
