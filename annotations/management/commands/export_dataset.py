import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.exports import FORMATS, export_lines
from projects.models import Project


class Command(BaseCommand):
    help = "Write a project's labels as training-ready JSONL (to stdout or -o FILE)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("--format", choices=FORMATS, default="pairs")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, project: str, format: str, output: Path | None, **options) -> None:
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project with slug {project!r}")
        lines = 0
        if output is None:
            try:
                for line in export_lines(target, format):
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
            with partial.open("wb") as handle:
                for line in export_lines(target, format):
                    handle.write(line)
                    lines += 1
            partial.replace(output)
        self.stderr.write(
            f"{lines} {format} row(s) from {target.slug}" + (f" written to {output}" if output else "")
        )
