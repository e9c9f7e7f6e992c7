"""Name the guideline viewing a leaked excerpt was copied from.

Paste the leaked text (one paragraph or more) into a file and run `manage.py trace_leak FILE`
(or `-` to read standard input). The invisible fingerprints that `projects.fingerprints` wove into
the page tell who saw which version of which project's guidelines, and when. Exits with status 1
when the text names nobody: it carries no mark, only damaged or forged ones, or more damaged or
forged marks than valid ones (someone has tampered with it, so no attribution is safe).
"""

import sys
from datetime import UTC
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labelhub.pseudonyms import annotator_pseudonym
from projects.fingerprints import trace_text
from projects.models import GuidelineView

STDIN = "-"


def _read_excerpt(source: str) -> str:
    name = "standard input" if source == STDIN else source
    if source == STDIN:
        # Bytes where the stream has them, so the encoding is ours to check, not the locale's.
        buffer = getattr(sys.stdin, "buffer", None)
        raw: bytes | str = buffer.read() if buffer is not None else sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise CommandError(f"{name}: no such file")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if isinstance(raw, str):
        return raw
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not part of the text.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CommandError(
            f"{name}: not UTF-8 text (byte {exc.start}); save the excerpt as UTF-8 and try again"
        ) from exc


def _describe(view: GuidelineView) -> str:
    project = view.guideline.project
    pseudonym = annotator_pseudonym(project_id=project.pk, user_id=view.viewer_id)
    when = view.viewed_at.astimezone(UTC).isoformat(timespec="seconds")
    return (
        f"view {view.pk}: {view.viewer.username} ({pseudonym}) saw the guidelines of project "
        f"{project.slug} ({project.codename}) version {view.guideline.version} at {when}"
    )


class Command(BaseCommand):
    help = "Name the guideline view (who, when, which version) a pasted excerpt was copied from."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a UTF-8 text file holding the excerpt, or - for standard input")

    def handle(self, *args: object, file: str, **options: object) -> None:
        trace = trace_text(_read_excerpt(file))
        if not trace.view_ids:
            if trace.damaged:
                raise CommandError(
                    f"the text carries {trace.damaged} fingerprint mark(s), but all were damaged or "
                    "forged (their check does not hold): they cannot be attributed to anyone",
                    returncode=1,
                )
            raise CommandError(
                "the text carries no fingerprint: it may have been retyped, OCR'd, or passed through "
                "a tool that strips invisible characters, so it cannot be traced",
                returncode=1,
            )

        if trace.damaged > trace.valid:
            raise CommandError(
                f"the text carries {trace.damaged} damaged or forged fingerprint mark(s) and only "
                f"{trace.valid} valid one(s): it has been tampered with, so it is not attributed to "
                f"anyone (the valid marks name view(s) {', '.join(map(str, trace.view_ids))})",
                returncode=1,
            )
        views = GuidelineView.objects.select_related("guideline__project", "viewer").in_bulk(trace.view_ids)
        if len(trace.view_ids) > 1:
            self.stdout.write(
                f"The excerpt mixes text from {len(trace.view_ids)} views "
                "(e.g. two people's copies pasted together):"
            )
        for view_id in trace.view_ids:
            view = views.get(view_id)
            if view is None:
                self.stdout.write(
                    f"view {view_id}: the mark is genuine, but no such view is recorded in this database"
                )
            else:
                self.stdout.write(_describe(view))
        if trace.damaged:
            self.stdout.write(
                f"{trace.damaged} further mark(s) were damaged or forged and were left out of the "
                "attribution."
            )
        if not views:
            raise CommandError(
                "no recorded guideline view matches the excerpt's marks: it cannot be attributed here",
                returncode=1,
            )
