"""A dataset bundle: every export of a project in one folder, with a manifest and a card.

The manifest records what was exported, with which options, how many rows each file holds, what
was dropped and why, agreement, the share of chosen responses shown on the left (a position bias
check) and the sha256 of every file. Its time is the time of the newest judgment, not the clock,
so the same data and options give byte-identical bundles.
"""

import hashlib
import json
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

from django.db.models import Max

from annotations.exports import REGISTRY, PairOptions, export_id_for, export_lines
from annotations.models import Annotation
from projects.models import Project

APP_VERSION = "0.1.0"


def _write(path: Path, lines: Any) -> dict[str, Any]:
    digest, rows = hashlib.sha256(), 0
    with path.open("wb") as handle:
        for line in lines:
            handle.write(line)
            digest.update(line)
            rows += 1
    return {"file": path.name, "rows": rows, "sha256": digest.hexdigest()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_bundle(*, project: Project, directory: Path, options: PairOptions, parquet: bool = False) -> dict:
    """Write the bundle into `directory` (created if needed); returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    tally: Counter = Counter()
    files = {}
    formats = [name for name, export_format in REGISTRY.items() if export_format.in_bundle(project, options)]
    for fmt in formats:
        files[fmt] = _write(directory / f"{fmt}.jsonl", export_lines(project, fmt, options, tally))
        if parquet:
            files[f"{fmt} (parquet)"] = _parquet(directory / f"{fmt}.jsonl")
    kept = tally["kept"]
    manifest = {
        "export_id": export_id_for(project, options),
        "data_as_of": _data_time(project),
        "app_version": APP_VERSION,
        "project": {"slug": project.slug, "kind": project.kind, "labels_per_item": project.labels_per_item},
        "options": {
            "style": options.style,
            "aggregate": options.aggregate,
            "margin": options.margin,
            "min_annotations": options.min_annotations,
            "min_agreement": options.min_agreement,
            "splits": dict(options.splits),
            "ties": options.ties,
            "include_paused": options.include_paused,
        },
        "files": files,
        "pairs": {
            "kept": kept,
            "judgments_kept": tally["judgments kept"],
            "dropped": {
                key.removeprefix("dropped: "): tally[key]
                for key in sorted(tally)
                if key.startswith("dropped")
            },
            "mean_agreement": round(tally["agreement total"] / kept, 4) if kept else None,
            "share_chosen_shown_left": round(tally["chosen shown on the left"] / tally["judgments kept"], 4)
            if tally["judgments kept"]
            else None,
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    (directory / "README.md").write_text(_card(project, manifest))
    return manifest


def _parquet(jsonl: Path) -> dict[str, Any]:
    # Parquet needs the whole table in memory; it is an optional copy for convenience.
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    target = jsonl.with_suffix(".parquet")
    if jsonl.stat().st_size:
        pq.write_table(pa_json.read_json(jsonl), target)
    else:
        target.write_bytes(b"")
    return {"file": target.name, "sha256": _sha256(target)}


def _data_time(project: Project) -> str | None:
    newest = Annotation.objects.filter(project=project).aggregate(t=Max("submitted_at"))["t"]
    return newest.isoformat() if newest else None


def _card(project: Project, manifest: dict) -> str:
    pairs = manifest["pairs"]
    rows = "\n".join(
        f"| `{info['file']}` | {info.get('rows', '')} | `{info['sha256'][:16]}…` |"
        for info in manifest["files"].values()
    )
    return f"""# {project.name}: preference data

Exported by LabelHub (export `{manifest["export_id"]}`, data as of {manifest["data_as_of"]}).
Judgments by vetted domain experts, named by pseudonymous ids only.

| file | rows | sha256 |
|---|---|---|
{rows}

- `pairs.jsonl`: TRL preference pairs with an explicit prompt ({pairs["kept"]} pairs; mean
  agreement {pairs["mean_agreement"]}; chosen response shown on the left in
  {pairs["share_chosen_shown_left"]} of kept judgments).
- `kto.jsonl`: unpaired desirable / undesirable completions.
- `annotations.jsonl`: every judgment as made, skips included.

Load with `datasets.load_dataset("json", data_files="pairs.jsonl")`. Options and the counts of
what was left out and why are in `manifest.json`.
"""


def bundle_archive(*, project: Project, options: PairOptions) -> BinaryIO:
    """The bundle as a zip in a temporary file (deleted when closed), rewound for reading."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - handed open to the caller, who closes it
    with tempfile.TemporaryDirectory() as folder:
        export_bundle(project=project, directory=Path(folder), options=options)
        zip_bundle(Path(folder), archive)
    archive.seek(0)
    return archive


def zip_bundle(directory: Path, target: Path | BinaryIO) -> None:
    """The bundle as one zip, its members in a fixed order with fixed times (reproducible)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.iterdir()):
            info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(info, "w") as sink:
                for block in iter(lambda source=source: source.read(1 << 20), b""):
                    sink.write(block)
