"""The export registry: each format declares its columns once, and every door lists the formats
from it, so that a format added in one module is offered everywhere."""

import dataclasses
import io
import json
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.bundle import export_bundle
from annotations.exports import (
    AGGREGATES,
    REGISTRY,
    Aggregate,
    ColumnSource,
    ExportFormat,
    PairOptions,
    add_columns,
    export_lines,
)
from annotations.exports.base import dumps
from annotations.forms import ExportForm
from tests.annotations.test_export_formats import judge, judged  # noqa: F401 - a fixture
from tests.annotations.test_ratings import all_rated, rubric, submit  # noqa: F401 - a fixture
from tests.conftest import api_for

RUBRIC_ONLY = [name for name, export_format in REGISTRY.items() if export_format.rubric_only]


def optional_columns_given(options: PairOptions) -> set[str]:
    """The optional columns these options ask for."""
    given = {"margin"} if options.margin else set()
    if AGGREGATES[options.aggregate].consensus is not None:
        given.add("confidence")
    return given


def assert_rows_match_the_declaration(export_format: ExportFormat, lines: list[bytes], options: PairOptions):
    assert lines, f"{export_format.name}: nothing to check"
    expected = list(export_format.columns)
    expected += [c for c in export_format.optional_columns if c in optional_columns_given(options)]
    expected += list(export_format.added_columns)
    for line in lines:
        row = json.loads(line)
        assert list(row) == expected, export_format.name
        for column, value in row.items():
            kinds, nullable = export_format.column_types(column)
            if value is None:
                assert nullable, (export_format.name, column)
            else:
                # JSON has no separate integer-valued floats: a number column may hold 1.0.
                assert isinstance(value, kinds) and not (bool in kinds) ^ isinstance(value, bool), (
                    export_format.name,
                    column,
                    value,
                )


@pytest.mark.parametrize("name", [n for n in REGISTRY if n not in RUBRIC_ONLY])
@pytest.mark.parametrize(
    "options",
    [PairOptions(), PairOptions(margin=True), PairOptions(margin=True, aggregate="dawid_skene")],
    ids=["plain", "margin", "margin-dawid_skene"],
)
def test_each_comparison_format_writes_exactly_the_columns_and_types_it_declares(
    judged,  # noqa: F811
    annotator2,
    name,
    options,
):
    # Timed, with a pasted rationale: every added column has a value on some row.
    judge(judged, annotator2, "B", 1, "B is shorter", active_seconds=40, pasted_chars=3)
    lines = list(export_lines(judged, name, options))
    assert_rows_match_the_declaration(REGISTRY[name], lines, options)
    for column in REGISTRY[name].added_columns:
        assert any(json.loads(line)[column] is not None for line in lines), (name, column)


@pytest.mark.parametrize("name", RUBRIC_ONLY)
def test_each_rubric_format_writes_exactly_the_columns_and_types_it_declares(rubric, annotator, name):  # noqa: F811
    submit(rubric, annotator, all_rated())
    assert_rows_match_the_declaration(REGISTRY[name], list(export_lines(rubric, name)), PairOptions())


def test_a_declaration_with_an_unknown_column_type_is_refused():
    with pytest.raises(ValueError, match="column when has an unknown type 'date'"):
        ExportFormat(name="x", label="X", columns={"when": "date"}, lines=lambda *_: iter(()))


def test_an_unknown_format_names_the_ones_there_are(acme):
    with pytest.raises(
        ValueError, match="unknown export format 'csv'; choose one of: pairs, kto, annotations"
    ):
        export_lines(acme, "csv")


def item_ids(project, options: PairOptions, tally: Counter):
    for item in project.items.order_by("external_id"):
        yield dumps({"item_id": item.external_id})


@pytest.fixture
def new_format(monkeypatch):
    """A format added the way a new module adds one: registered, and nothing else touched."""
    monkeypatch.setitem(
        REGISTRY,
        "item_ids",
        ExportFormat(name="item_ids", label="Item ids", columns={"item_id": "string"}, lines=item_ids),
    )
    return b"".join(dumps({"item_id": f"a-{n}"}) for n in range(5))


def test_a_registered_format_is_offered_by_the_command_the_page_the_api_and_the_bundle(
    client, manager, acme, acme_items, new_format, tmp_path
):
    target = tmp_path / "ids.jsonl"
    call_command("export_dataset", acme.slug, "--format", "item_ids", "-o", str(target), stderr=io.StringIO())
    assert target.read_bytes() == new_format

    assert ("item_ids", "Item ids") in list(ExportForm().fields["format"].choices)
    client.force_login(manager)
    page = client.post(reverse("annotations:export", args=[acme.code]), {"format": "item_ids"})
    assert page.status_code == 200 and b"".join(page.streaming_content) == new_format

    api = api_for(manager).get(f"/api/v1/projects/{acme.slug}/export", {"format": "item_ids"})
    assert api.status_code == 200 and b"".join(api.streaming_content) == new_format

    manifest = export_bundle(project=acme, directory=tmp_path / "bundle", options=PairOptions())
    assert manifest["files"]["item_ids"]["rows"] == 5
    assert (tmp_path / "bundle" / "item_ids.jsonl").read_bytes() == new_format


def first_judgment(project, left_out) -> dict[str, tuple[str, float]]:
    """A consensus a higher app might compute: each item's first judgment kept by the export,
    held with certainty."""
    first = {}
    for item_id, preference in left_out.apply(project.annotations.order_by("pk")).values_list(
        "item__external_id", "preference"
    ):
        first.setdefault(item_id, (preference, 1.0))
    return first


@pytest.fixture
def new_aggregate(monkeypatch):
    """An aggregate added the way a higher app adds one: registered, and nothing else touched."""
    aggregate = Aggregate(name="first", label="First judgment per item", consensus=first_judgment)
    monkeypatch.setitem(AGGREGATES, "first", aggregate)
    return aggregate


def test_a_registered_aggregate_is_offered_by_the_command_the_page_and_the_api(
    client,
    manager,
    judged,  # noqa: F811
    annotator2,
    new_aggregate,
    tmp_path,
):
    judge(judged, annotator2, "B", 1)
    expected = b"".join(export_lines(judged, "pairs", PairOptions(aggregate="first")))
    assert [json.loads(line)["id"] for line in expected.splitlines()] == ["a-0:first", "a-3:first"]
    target = tmp_path / "pairs.jsonl"
    call_command(
        "export_dataset", judged.slug, "--aggregate", "first", "-o", str(target), stderr=io.StringIO()
    )
    assert target.read_bytes() == expected

    assert ("first", "First judgment per item") in list(ExportForm().fields["aggregate"].choices)
    client.force_login(manager)
    page = client.post(
        reverse("annotations:export", args=[judged.code]), {"format": "pairs", "aggregate": "first"}
    )
    assert page.status_code == 200 and b"".join(page.streaming_content) == expected

    api = api_for(manager).get(
        f"/api/v1/projects/{judged.slug}/export", {"format": "pairs", "aggregate": "first"}
    )
    assert api.status_code == 200 and b"".join(api.streaming_content) == expected


def test_an_aggregate_name_is_taken_once():
    from annotations.exports import register_aggregate

    with pytest.raises(ValueError, match="aggregate 'majority' is registered twice"):
        register_aggregate(Aggregate(name="majority", label="Another majority", consensus=first_judgment))
    assert register_aggregate(AGGREGATES["majority"]) is AGGREGATES["majority"]


# --- columns added by other apps ---


def reviews(project):
    """A source that reads the database, as the quality signals do: one value per annotation. (On
    PostgreSQL, a query while the rows stream would fail: the connection is theirs.)"""
    return {pk: (f"seen {pk}",) for pk in project.annotations.values_list("pk", flat=True)}


REVIEWS = ColumnSource(name="reviews", columns={"review": "string?"}, values=reviews)


@pytest.fixture
def annotations_with_reviews(monkeypatch):
    """The annotations format as registered, with one more source (the registry left as it was)."""
    registered = REGISTRY["annotations"]
    extended = dataclasses.replace(registered, sources=list(registered.sources))
    monkeypatch.setitem(REGISTRY, "annotations", extended)
    add_columns("annotations", REVIEWS)
    return extended


def test_added_columns_follow_the_formats_own_and_a_row_of_no_annotation_holds_null(
    judged,  # noqa: F811
    annotations_with_reviews,
):
    lines = [json.loads(line) for line in export_lines(judged, "annotations")]
    assert list(lines[0])[-1] == "review" and list(annotations_with_reviews.added_columns)[-1] == "review"
    by_pk = dict(judged.annotations.values_list("item__external_id", "pk"))
    judgments, skips = (
        [r for r in lines if r["outcome"] != "skip"],
        [r for r in lines if r["outcome"] == "skip"],
    )
    assert [r["review"] for r in judgments] == [f"seen {by_pk[r['item_id']]}" for r in judgments]
    assert skips and all(r["review"] is None for r in skips)
    assert_rows_match_the_declaration(
        annotations_with_reviews, list(export_lines(judged, "annotations")), PairOptions()
    )


def test_adding_a_source_twice_adds_its_columns_once(annotations_with_reviews):
    add_columns("annotations", REVIEWS)
    assert list(annotations_with_reviews.added_columns).count("review") == 1


def test_a_column_added_twice_by_two_sources_or_to_a_format_that_takes_none_is_refused(
    annotations_with_reviews,
):
    again = ColumnSource(name="other reviews", columns={"review": "string?"}, values=reviews)
    with pytest.raises(ValueError, match="export annotations already has the column"):
        add_columns("annotations", again)
    with pytest.raises(ValueError, match=re.escape("already has the column(s) rationale")):
        add_columns("annotations", ColumnSource(name="x", columns={"rationale": "string?"}, values=reviews))
    refused = "export pairs takes no columns from other apps (reviews)"
    with pytest.raises(ValueError, match=re.escape(refused)):
        add_columns("pairs", REVIEWS)


def test_an_added_column_must_be_nullable_and_of_a_known_type():
    with pytest.raises(ValueError, match="review must be nullable"):
        ColumnSource(name="reviews", columns={"review": "string"}, values=reviews)
    with pytest.raises(ValueError, match=re.escape("column review has an unknown type 'date?'")):
        ColumnSource(name="reviews", columns={"review": "date?"}, values=reviews)
