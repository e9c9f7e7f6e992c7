"""What the exports leave out: qualification answers always; the labels of an expert the quality
controls paused, unless asked to keep them (then flagged). Every format, every door, both paths."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.exports import FORMATS, PairOptions, export_lines
from annotations.models import Annotation
from projects.models import Membership, Project
from tests.conftest import api_for
from tests.factories import ItemFactory
from tests.quality.test_controls import answer, gold_item

PAUSED = Membership.QualityStatus.PAUSED


def rows(project, fmt, **options) -> list[dict]:
    return [json.loads(line) for line in export_lines(project, fmt, PairOptions(**options))]


@pytest.fixture
def exported(acme: Project, annotator, annotator2):
    """Acme with a two-item qualification both experts passed, then four items labelled by both;
    the second expert is then paused."""
    Project.objects.filter(pk=acme.pk).update(qualification_items=2, labels_per_item=2)
    acme.refresh_from_db()
    for n in range(2):
        gold_item(acme, f"q-{n}", qualification=True)
    for n in range(4):
        ItemFactory(project=acme, external_id=f"w-{n}")
    for expert in (annotator, annotator2):
        for _ in range(6):
            answer(acme, expert, correct=True)
    assert Annotation.objects.filter(project=acme, item__is_qualification=True).count() == 4
    Membership.objects.filter(project=acme, user=annotator2).update(quality_status=PAUSED)
    return acme


def annotators_of(lines: list[dict]) -> set[str]:
    found = set()
    for line in lines:
        found.update(line.get("annotators") or [line.get("annotator")])
    return found - {None}


@pytest.mark.parametrize("fmt", ["pairs", "kto", "annotations"])
def test_qualification_answers_are_in_no_export(exported, fmt):
    for include_paused in (False, True):
        lines = rows(exported, fmt, include_paused=include_paused)
        assert lines and not any(line["item_id"].startswith("q-") for line in lines)


@pytest.mark.parametrize("fmt", ["pairs", "kto", "annotations"])
def test_a_paused_experts_labels_are_left_out_unless_kept(exported, annotator, annotator2, fmt):
    from labelhub.pseudonyms import annotator_pseudonym

    first, second = (
        annotator_pseudonym(project_id=exported.pk, user_id=user.pk) for user in (annotator, annotator2)
    )
    assert annotators_of(rows(exported, fmt)) == {first}
    assert annotators_of(rows(exported, fmt, include_paused=True)) == {first, second}


def test_kept_labels_of_a_paused_expert_are_flagged_in_the_annotations_export(exported, annotator2):
    lines = rows(exported, "annotations", include_paused=True)
    flagged = {line["expert_paused"] for line in lines}
    assert flagged == {True, False}
    assert sum(line["expert_paused"] for line in lines) == 4  # the second expert's four labels
    assert not any(line["expert_paused"] for line in rows(exported, "annotations"))


def test_pairs_of_an_aggregate_count_only_the_experts_kept(exported):
    majority = rows(exported, "pairs", aggregate="majority")
    assert {line["n_annotations"] for line in majority} == {1}
    kept = rows(exported, "pairs", aggregate="majority", include_paused=True)
    assert {line["n_annotations"] for line in kept} == {2}


@pytest.mark.postgres_only
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("include_paused", [False, True])
def test_the_streamed_statements_leave_out_what_the_orm_leaves_out(
    exported, monkeypatch, fmt, include_paused
):
    options = PairOptions(include_paused=include_paused)
    streamed = b"".join(export_lines(exported, fmt, options))
    monkeypatch.setattr("annotations.exports.base.on_postgresql", lambda: False)
    assert b"".join(export_lines(exported, fmt, options)) == streamed


def test_every_door_can_keep_the_paused_experts_labels(exported, manager, client, tmp_path):
    def count(data: bytes) -> int:
        return len(data.splitlines())

    default = count(b"".join(export_lines(exported, "annotations")))
    kept = count(b"".join(export_lines(exported, "annotations", PairOptions(include_paused=True))))
    assert kept == default + 4
    target = tmp_path / "out.jsonl"
    call_command(
        "export_dataset",
        exported.slug,
        "--format",
        "annotations",
        "--include-paused",
        "-o",
        str(target),
        stderr=io.StringIO(),
    )
    assert count(target.read_bytes()) == kept
    client.force_login(manager)
    page = client.post(
        reverse("annotations:export", args=[exported.code]), {"format": "annotations", "include_paused": "on"}
    )
    assert count(b"".join(page.streaming_content)) == kept
    url = reverse("annotations:api-export", args=[exported.slug])
    api = api_for(manager)
    assert (
        count(b"".join(api.get(url, {"format": "annotations", "include_paused": "true"}).streaming_content))
        == kept
    )
    assert count(b"".join(api.get(url, {"format": "annotations"}).streaming_content)) == default
    refused = api.get(url, {"format": "annotations", "include_paused": "yes"})
    assert refused.status_code == 400 and "include_paused" in refused.json()


def test_the_bundle_manifest_says_whether_paused_experts_were_kept(exported, tmp_path):
    from annotations.bundle import export_bundle

    manifest = export_bundle(
        project=exported, directory=tmp_path / "b", options=PairOptions(include_paused=True)
    )
    assert manifest["options"]["include_paused"] is True


def test_the_dawid_skene_consensus_weighs_only_the_judgments_the_export_keeps(exported, monkeypatch):
    from quality import frames

    seen, original = [], frames.judgment_frames

    def spy(project, *, annotations=None):
        result = original(project, annotations=annotations)
        seen.append(len(result.choices))
        return result

    monkeypatch.setattr(frames, "judgment_frames", spy)
    rows(exported, "pairs", aggregate="dawid_skene")
    rows(exported, "pairs", aggregate="dawid_skene", include_paused=True)
    assert seen == [4, 8]  # the kept expert's four labels; then both experts' (never the qualification)


def test_a_paused_experts_skips_are_left_out_too(exported, annotator2):
    from annotations.services import assignment_next, assignment_skip

    ItemFactory(project=exported, external_id="w-skip")
    Membership.objects.filter(project=exported, user=annotator2).update(
        quality_status=Membership.QualityStatus.ACTIVE
    )
    assignment_skip(
        assignment=assignment_next(project=exported, expert=annotator2), expert=annotator2, reason="unsure"
    )
    Membership.objects.filter(project=exported, user=annotator2).update(quality_status=PAUSED)
    assert not [line for line in rows(exported, "annotations") if line["outcome"] == "skip"]
    [kept] = [
        line for line in rows(exported, "annotations", include_paused=True) if line["outcome"] == "skip"
    ]
    assert kept["expert_paused"] is True
