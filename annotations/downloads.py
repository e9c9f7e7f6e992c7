"""An export as a download: the one path for the export page and the API."""

from django.http import HttpRequest, StreamingHttpResponse

from annotations.exports import PairOptions, export_lines
from labelhub.audit import Action, audit_record
from projects.models import Project


def export_download(
    *, project: Project, fmt: str, options: PairOptions, request: HttpRequest, via: str
) -> StreamingHttpResponse:
    """The export streamed as an attachment, audited. ValueError (nothing sent, nothing audited)
    when the options cannot give this export."""
    rows = export_lines(project, fmt, options)
    audit_record(
        action=Action.EXPORT_DOWNLOADED,
        actor=request.user,
        project=project,
        request=request,
        target=f"export {fmt}",
        detail={"format": fmt, "via": via},
    )
    response = StreamingHttpResponse(rows, content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{fmt}.jsonl"'
    return response
