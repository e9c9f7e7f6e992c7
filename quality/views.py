"""The quality page of a project, for those who may export it (managers and client viewers)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labelhub.resilience import safe_to_retry
from labelhub.throttling import throttled
from projects.permissions import Perm, has_project_perm, project_for
from quality.report import project_quality


@safe_to_retry
@require_GET
@login_required
@throttled()  # the heaviest page: under the same per-user rate as the labelling pages
def project_page(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.EXPORT, code=code)
    # Client viewers see annotators only by pseudonym; the vendor's managers know their experts.
    identify = has_project_perm(request.user, project, Perm.MANAGE)
    report = project_quality(project, identify_experts=identify)
    return render(
        request, "quality/project.html", {"project": project, "report": report, "identify": identify}
    )
