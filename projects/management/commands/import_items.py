from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labelhub.terminal_progress import Progress
from projects.importing import detect_format, read_items
from projects.models import Project
from projects.services import ImportRejected, items_import_stream


class Command(BaseCommand):
    help = "Import items into a project from a JSONL or CSV file, all or nothing."
    # The system checks import every URLconf and view (a tenth of a second) and find nothing a
    # data command depends on; `manage.py check`, the server and the test suite still run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("file", type=Path, help="a .jsonl or .csv file")
        parser.add_argument("--format", choices=["jsonl", "csv"], help="override the format the name implies")
        parser.add_argument(
            "--update",
            action="store_true",
            help="replace items whose id exists with different content (unlabelled items only)",
        )

    def handle(self, *args, project: str, file: Path, format: str | None, update: bool, **options) -> None:
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project with slug {project!r}")
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            fmt = format or detect_format(file.name)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # Read, checked and stored in one pass: the database stores rows while the file is read.
        stream = read_items(file.read_bytes(), fmt=fmt, kind=target.kind)
        errors = []
        progress = Progress(f"import {file.name}", total=stream.most)
        try:
            report = items_import_stream(
                project=target, stream=stream, update=update, on_stored=progress.advance
            )
            progress.finish()
        except ImportRejected as rejected:
            progress.abandon()
            errors = rejected.errors
        if errors:
            for error in errors:
                self.stderr.write(error.format(str(file)))
            raise CommandError(f"{len(errors)} error(s) in {file}; nothing was imported", returncode=1)
        self.stdout.write(
            f"{file}: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged (already imported) in project {target.slug}"
        )
