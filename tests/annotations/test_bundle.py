import io
import json
import zipfile

import pyarrow.parquet as pq
from django.core.management import call_command
from django.urls import reverse

from annotations.bundle import export_bundle
from annotations.exports import PairOptions, export_lines
from labelhub.models import AuditEvent
from tests.annotations.test_export_options import outvoted, voted  # noqa: F401 - a fixture


def test_a_bundle_holds_every_format_with_a_manifest_that_accounts_for_every_judgment(voted, tmp_path):  # noqa: F811
    manifest = export_bundle(
        project=voted, directory=tmp_path, options=PairOptions(aggregate="majority"), parquet=True
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "README.md",
        "annotations.jsonl",
        "annotations.parquet",
        "kto.jsonl",
        "kto.parquet",
        "manifest.json",
        "pairs.jsonl",
        "pairs.parquet",
    ]
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    pairs = manifest["pairs"]
    assert (pairs["kept"], pairs["judgments_kept"]) == (1, 2)
    assert pairs["dropped"] == {"no majority": 2, "outvoted": 1, "tie or both bad": 1}
    # Every one of the six judgments is accounted for.
    assert pairs["judgments_kept"] + sum(pairs["dropped"].values()) == 6
    assert pairs["share_chosen_shown_left"] == 1.0  # sides are not randomised in tests
    assert manifest["files"]["pairs"]["rows"] == 1
    assert pq.read_table(tmp_path / "pairs.parquet").num_rows == 1
    assert (tmp_path / "pairs.jsonl").read_bytes() == b"".join(
        export_lines(voted, "pairs", PairOptions(aggregate="majority"))
    )
    assert "pairs.jsonl" in (tmp_path / "README.md").read_text()


def test_the_same_data_and_options_give_a_byte_identical_bundle(voted, tmp_path):  # noqa: F811
    for name in ("one", "two"):
        call_command(
            "export_dataset",
            voted.slug,
            "--bundle",
            str(tmp_path / name),
            "--split",
            "test=0.3",
            stderr=io.StringIO(),
        )
    for path in (tmp_path / "one").iterdir():
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name


def test_the_bundle_downloads_as_a_zip_and_is_audited(client, manager, voted):  # noqa: F811
    client.force_login(manager)
    response = client.post(reverse("annotations:export", args=[voted.code]), {"format": "bundle"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="acme-helpfulness-bundle.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == [
        "README.md",
        "annotations.jsonl",
        "kto.jsonl",
        "manifest.json",
        "pairs.jsonl",
    ]
    assert AuditEvent.objects.filter(action="export_downloaded", detail__format="bundle").exists()


def test_ties_go_to_their_own_file_when_asked(voted, tmp_path):  # noqa: F811
    export_bundle(project=voted, directory=tmp_path / "dropped", options=PairOptions())
    manifest = export_bundle(project=voted, directory=tmp_path / "kept", options=PairOptions(ties="separate"))
    assert not (tmp_path / "dropped" / "ties.jsonl").exists()
    (line,) = [json.loads(text) for text in (tmp_path / "kept" / "ties.jsonl").read_text().splitlines()]
    assert line["item_id"] == "a-1" and line["responses"] == ["First answer to a-1", "Second answer to a-1"]
    assert manifest["options"]["ties"] == "separate" and manifest["files"]["ties"]["rows"] == 1


def test_a_dawid_skene_bundle_says_so_and_accounts_for_every_judgment(outvoted, tmp_path):  # noqa: F811
    options = PairOptions(aggregate="dawid_skene")
    manifest = export_bundle(project=outvoted, directory=tmp_path, options=options)
    assert manifest["options"]["aggregate"] == "dawid_skene"
    pairs = manifest["pairs"]
    assert (pairs["kept"], pairs["judgments_kept"]) == (6, 18)
    assert pairs["dropped"] == {"no consensus for a or b": 6, "outvoted": 12, "tie or both bad": 4}
    assert pairs["judgments_kept"] + sum(pairs["dropped"].values()) == outvoted.annotations.count()
    assert (tmp_path / "pairs.jsonl").read_bytes() == b"".join(export_lines(outvoted, "pairs", options))
