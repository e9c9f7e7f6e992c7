"""The quality page of a project, for those who may export it (managers and client viewers)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labelhub.charts import chart_download
from labelhub.resilience import safe_to_retry
from labelhub.throttling import throttled
from projects.permissions import Perm, has_project_perm, project_for
from quality.charts import CHARTS, quality_charts
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
    context = {"project": project, "report": report, "identify": identify}
    return render(request, "quality/project.html", {**context, "charts": quality_charts(project, report)})


@safe_to_retry
@require_GET
@login_required
@throttled()  # as heavy as the page: the whole report is read for one chart
def chart(request: HttpRequest, code: str, chart: str, fmt: str) -> HttpResponse:
    """One chart of the quality page as a file (`fmt`: svg or csv), to whoever may see the page."""
    project = project_for(request.user, Perm.EXPORT, code=code)
    build = CHARTS.get(chart)
    if build is None:
        raise Http404("No such chart.")
    report = project_quality(project, identify_experts=has_project_perm(request.user, project, Perm.MANAGE))
    return chart_download(build(project, report), fmt=fmt, stem=f"{project.slug}-quality")
