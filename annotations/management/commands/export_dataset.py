import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.bundle import export_bundle
from annotations.exports import (
    AGGREGATES,
    REGISTRY,
    STYLES,
    TIE_HANDLING,
    PairOptions,
    export_lines,
    parse_splits,
)
from labelhub.terminal_progress import Progress
from projects.models import Project


class Command(BaseCommand):
    help = "Write a project's labels as training-ready JSONL (to stdout or -o FILE)."
    # The system checks import every URLconf and view (a tenth of a second) and find nothing a
    # data command depends on; `manage.py check`, the server and the test suite still run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("--format", choices=list(REGISTRY), default="pairs")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
        parser.add_argument(
            "--bundle",
            type=Path,
            metavar="DIR",
            help="write every format, a manifest.json and a README.md card into DIR",
        )
        parser.add_argument("--parquet", action="store_true", help="with --bundle: Parquet copies too")
        parser.add_argument(
            "--include-paused",
            action="store_true",
            help="keep the labels of experts the quality controls paused (left out by default)",
        )
        pairs = parser.add_argument_group("pairs options")
        pairs.add_argument(
            "--style",
            choices=list(STYLES),
            default="auto",
            help="plain strings or chat messages (auto: messages if any prompt is a chat)",
        )
        pairs.add_argument("--margin", action="store_true", help="add a float margin from the strength")
        pairs.add_argument(
            "--aggregate",
            choices=list(AGGREGATES),
            default="none",
            help="a pair per annotation, or one per item: its majority, or a consensus computed first",
        )
        pairs.add_argument(
            "--ties",
            choices=list(TIE_HANDLING),
            default="drop",
            help="with --bundle, separate writes the tie judgments to ties.jsonl",
        )
        pairs.add_argument("--min-annotations", type=int, default=1, metavar="N")
        pairs.add_argument("--min-agreement", type=float, default=0.0, metavar="X")
        pairs.add_argument(
            "--split",
            default="",
            metavar="test=0.1[,validation=0.05]",
            help="assign splits from a hash of the prompt (the rest is train)",
        )

    def handle(self, *args, project: str, format: str, output: Path | None, **options) -> None:
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project with slug {project!r}")
        try:
            pair_options = PairOptions(
                style=options["style"],
                ties=options["ties"],
                margin=options["margin"],
                aggregate=options["aggregate"],
                min_annotations=options["min_annotations"],
                min_agreement=options["min_agreement"],
                splits=parse_splits(options["split"]),
                include_paused=options["include_paused"],
            )
            rows = export_lines(target, format, pair_options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["bundle"] is not None:
            try:
                manifest = export_bundle(
                    project=target,
                    directory=options["bundle"],
                    options=pair_options,
                    parquet=options["parquet"],
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            rows_written = ", ".join(
                f"{info['file']} {info['rows']}" for info in manifest["files"].values() if "rows" in info
            )
            self.stderr.write(f"bundle written to {options['bundle']}: {rows_written}")
            return
        # The number of judgments is a fair estimate of the rows to come, for the time left.
        progress = Progress(f"export {format}", total=target.annotations.count() or None)
        rows = progress.track(rows)
        lines = 0
        if output is None:
            try:
                for line in rows:
                    sys.stdout.buffer.write(line)
                    lines += 1
                sys.stdout.flush()
            except BrokenPipeError:
                # The reader (e.g. `| head`) has had enough. Point stdout at devnull so that the
                # interpreter's final flush does not fail again (the recipe in Python's docs).
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return
        else:
            # Write beside the target and rename, so a failed export never leaves half a file.
            partial = output.with_name(output.name + ".partial")
            # Lines are a few kB each: a large buffer writes them in a few hundred calls, not thousands.
            with partial.open("wb", buffering=1 << 20) as handle:
                for line in rows:
                    handle.write(line)
                    lines += 1
            partial.replace(output)
        self.stderr.write(
            f"{lines} {format} row(s) from {target.slug}" + (f" written to {output}" if output else "")
        )
