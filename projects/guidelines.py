"""Showing guidelines to a person: rendered, fingerprinted for that viewing, watermarked."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from labelhub.markdown import render_markdown
from labelhub.models import User
from labelhub.pseudonyms import annotator_pseudonym
from projects.fingerprints import fingerprint_html
from projects.models import Guideline, Project
from projects.services import guideline_view_record


@dataclass(frozen=True)
class ShownGuideline:
    guideline: Guideline
    html: SafeString
    watermark: str
    pseudonym: str


def current_guideline(project: Project) -> Guideline | None:
    return project.guidelines.order_by("-version").first()


def current_guideline_id(project: Project) -> int | None:
    """The current guideline's id, without reading its text (each judgment records it).
    Hand-written: it runs on every submission."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Guideline._meta.db_table} WHERE project_id = %s ORDER BY version DESC LIMIT 1",
            [project.pk],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def guideline_show(
    *, project: Project, viewer: User, request: HttpRequest, since: datetime | None = None
) -> ShownGuideline | None:
    """The current guideline as `viewer` may see it now, or None when none is published. With
    `since`, a showing recorded for them since then is shown again (see `guideline_view_record`)."""
    guideline = current_guideline(project)
    if guideline is None:
        return None
    view = guideline_view_record(guideline=guideline, viewer=viewer, request=request, since=since)
    # The marks are inserted into HTML that nh3 has already sanitised; they are plain characters.
    html = mark_safe(fingerprint_html(render_markdown(guideline.body), view.pk))
    pseudonym = annotator_pseudonym(project_id=project.pk, user_id=viewer.pk)
    return ShownGuideline(guideline, html, f"Confidential · {pseudonym}", pseudonym)
