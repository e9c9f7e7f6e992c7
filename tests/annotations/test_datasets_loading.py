"""The exports load with Hugging Face `datasets` exactly as an ML engineer would load them."""

import os
import uuid

import pytest

from annotations.exports import PairOptions, export_lines
from annotations.judging import ResponseRating
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from projects.models import Project
from projects.rubrics import CriterionSpec, rubric_save
from tests.factories import ItemFactory

# The json builder ships with the library; nothing may be fetched from a hub during tests.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import datasets


def load(project, fmt, tmp_path, options=None):
    path = tmp_path / f"{fmt}.jsonl"
    path.write_bytes(b"".join(export_lines(project, fmt, options)))
    return datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )


@pytest.fixture
def labelled(acme, annotator):
    ItemFactory(project=acme, external_id="plain", prompt="Plain?")
    ItemFactory(
        project=acme,
        external_id="chat",
        is_chat=True,
        prompt=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
    )
    ItemFactory(project=acme, external_id="skipped")
    for choice in ("A", "B"):
        assignment = assignment_next(project=acme, expert=annotator)
        annotation_submit(
            assignment=assignment,
            expert=annotator,
            judgment=Judgment(choice, 2, "why"),
            idempotency_key=uuid.uuid4(),
        )
    assignment_skip(
        assignment=assignment_next(project=acme, expert=annotator), expert=annotator, reason="other"
    )
    return acme


def test_pairs_load_as_trl_conversational_preference_data(labelled, tmp_path):
    data = load(labelled, "pairs", tmp_path, PairOptions(margin=True, splits=(("test", 0.5),)))
    assert data.num_rows == 2
    assert data.features["prompt"].feature["role"].dtype == "string"
    assert data.features["chosen"].feature["content"].dtype == "string"
    for name, dtype in [
        ("id", "string"),
        ("item_id", "string"),
        ("prompt_id", "string"),
        ("chosen_model", "string"),
        ("rejected_model", "string"),
        ("n_annotations", "int64"),
        ("agreement", "float64"),
        ("strength", "string"),
        ("split", "string"),
        ("export_id", "string"),
        ("guideline_version", "int64"),
        ("margin", "float64"),
    ]:
        assert data.features[name].dtype == dtype, name
    assert data.features["annotators"].feature.dtype == "string"
    assert data[1]["prompt"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
    ]
    assert data[1]["chosen"] == [{"role": "assistant", "content": "Second answer to chat"}]


def test_dawid_skene_pairs_load_with_a_float_confidence(labelled, tmp_path):
    data = load(labelled, "pairs", tmp_path, PairOptions(aggregate="dawid_skene", margin=True))
    assert data.num_rows == 2 and data["item_id"] == ["plain", "chat"]
    assert data.features["confidence"].dtype == "float64" and data.features["margin"].dtype == "float64"
    assert all(0.5 < confidence <= 1 for confidence in data["confidence"])
    assert data["id"] == ["plain:dawid_skene", "chat:dawid_skene"]


def test_plain_prompts_load_as_standard_preference_data(acme, annotator, tmp_path):
    ItemFactory(project=acme, external_id="p")
    assignment = assignment_next(project=acme, expert=annotator)
    annotation_submit(
        assignment=assignment, expert=annotator, judgment=Judgment("A", 1, ""), idempotency_key=uuid.uuid4()
    )
    data = load(acme, "pairs", tmp_path)
    assert {name: data.features[name].dtype for name in ("prompt", "chosen", "rejected")} == {
        "prompt": "string",
        "chosen": "string",
        "rejected": "string",
    }


def test_kto_loads_with_a_boolean_label(labelled, tmp_path):
    data = load(labelled, "kto", tmp_path)
    assert data.num_rows == 4 and data.features["label"].dtype == "bool"
    assert sorted(data["label"]) == [False, False, True, True]


def test_the_annotations_export_loads_with_skips_among_the_rows(labelled, tmp_path):
    data = load(labelled, "annotations", tmp_path)
    assert data["outcome"] == ["a", "b", "skip"]
    assert data.features["active_seconds"].dtype == "int64" and data.features["gold"].dtype == "bool"


def test_ratings_load_with_one_score_column_per_criterion(acme, annotator, tmp_path):
    acme.kind = Project.Kind.RUBRIC
    acme.save()
    rubric_save(
        project=acme,
        criteria=[CriterionSpec("help", "Help"), CriterionSpec("style", "Style", required=False)],
    )
    ItemFactory(project=acme, external_id="r", responses=[("one", ""), ("two", ""), ("three", "")])
    assignment = assignment_next(project=acme, expert=annotator)
    ratings = (
        ResponseRating(0, {"help": 4, "style": 2}),
        ResponseRating(1, {"help": 3}),
        ResponseRating(2, not_ratable=True, reason="empty"),
    )
    annotation_submit(
        assignment=assignment,
        expert=annotator,
        idempotency_key=uuid.uuid4(),
        judgment=Judgment("", None, "", ratings=ratings, rubric_version=1),
    )
    data = load(acme, "ratings", tmp_path)
    assert data.num_rows == 3
    assert data.features["scores"]["help"].dtype == "int64" and data.features["not_ratable"].dtype == "bool"
    assert data["scores"] == [
        {"help": 4, "style": 2},
        {"help": 3, "style": None},
        {"help": None, "style": None},
    ]
    means = load(acme, "ratings_mean", tmp_path)
    assert means.features["mean"]["help"].dtype == "float64"
    assert means.features["scores"]["help"].feature.dtype == "int64"
    assert means["mean"][0] == {"help": 4.0, "style": 2.0}
