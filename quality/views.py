"""The quality page of a project, for those who may export it (managers and client viewers), and
what its managers do there about an expert the quality controls hold back: reinstate them, or
open a retake of the qualification now.

Each action is asked for twice: the row's button confirms in the browser (`hx-confirm`) and posts
with htmx, which re-renders the experts' table; without JavaScript the same button opens a page
that asks, and its form posts. 404 for anyone who may not see the project, or for a person who is
not one of its experts; 403 for a member who may not manage it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from labelhub.charts import chart_download
from labelhub.models import User
from labelhub.resilience import safe_to_retry
from labelhub.throttling import throttled
from projects.models import Item, Membership, Project
from projects.permissions import Perm, has_project_perm, project_for
from quality.charts import CHARTS, quality_charts
from quality.report import project_quality
from quality.services import expert_reinstate, qualification_retake_allow


def _expert_of(project: Project, user_id: int) -> User:
    """The current expert member `user_id` of `project`; 404 for anyone else (never saying
    whether the person exists, or is on the project in another role)."""
    membership = (
        Membership.objects.filter(
            project=project, user_id=user_id, role=Membership.Role.EXPERT, ended_at__isnull=True
        )
        .select_related("user")
        .first()
    )
    if membership is None:
        raise Http404("No such expert on this project.")
    return membership.user


def quality_controls(project: Project) -> dict[str, Any]:
    """The project's quality settings as the page states them, and whether its qualification
    pool holds fewer items than an expert is asked (they are then graded on what there is)."""
    pool = Item.objects.filter(project=project, is_qualification=True).count()
    return {
        "pool": pool,
        "pool_short": project.qualification_items > 0 and pool < project.qualification_items,
    }


def _page_context(request: HttpRequest, project: Project, **extra: Any) -> dict[str, Any]:
    # Client viewers see annotators only by pseudonym; the vendor's managers know their experts.
    identify = has_project_perm(request.user, project, Perm.MANAGE)
    return {
        "project": project,
        "report": project_quality(project, identify_experts=identify),
        "identify": identify,
        "controls": quality_controls(project),
        **extra,
    }


@safe_to_retry
@require_GET
@login_required
@throttled()  # the heaviest page: under the same per-user rate as the labelling pages
def project_page(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.EXPORT, code=code)
    context = _page_context(request, project)
    return render(
        request, "quality/project.html", {**context, "charts": quality_charts(project, context["report"])}
    )


@dataclass(frozen=True)
class ExpertAction:
    """What a manager may do about a held-back expert, as the page words it."""

    url_name: str
    button: str
    question: str  # "{expert}" is the expert's username
    consequence: str
    done: str
    service: Callable[..., Membership]


REINSTATE = ExpertAction(
    url_name="quality:expert-reinstate",
    button="Reinstate",
    question="Reinstate {expert} on this project?",
    consequence="They are served items again at once; the automatic pause counts their gold "
    "answers afresh from now, and a failed qualification is waived.",
    done="{expert} is reinstated: they are served items again.",
    service=expert_reinstate,
)
RETAKE = ExpertAction(
    url_name="quality:expert-retake",
    button="Allow a retake now",
    question="Let {expert} retake the qualification now?",
    consequence="They are served qualification items they have not answered before, and graded "
    "again; the cool-off is waived.",
    done="{expert} may retake the qualification now.",
    service=qualification_retake_allow,
)


def _act(request: HttpRequest, code: str, user_id: int, action: ExpertAction) -> HttpResponse:
    project = project_for(request.user, Perm.MANAGE, code=code)
    expert = _expert_of(project, user_id)
    name = expert.get_username()
    asked = {"action": action, "expert": expert, "question": action.question.format(expert=name)}
    if request.method == "GET":  # the confirmation, for a browser without JavaScript
        return render(request, "quality/expert_action.html", {"project": project, **asked})
    try:
        action.service(project=project, expert=expert, by=request.user, request=request)
    except ValidationError as refused:  # the state changed since the page was shown
        error = " ".join(refused.messages)
        if request.htmx:
            context = _page_context(request, project, action_error=error)
            return render(request, "quality/project.html#experts", context, status=422)
        context = {"project": project, **asked, "error": error}
        return render(request, "quality/expert_action.html", context, status=422)
    done = action.done.format(expert=name)
    if request.htmx:
        return render(request, "quality/project.html#experts", _page_context(request, project, done=done))
    messages.success(request, done)
    return redirect("quality:project", code=project.code)


@require_http_methods(["GET", "POST"])
@login_required
def reinstate(request: HttpRequest, code: str, user_id: int) -> HttpResponse:
    """GET: ask; POST: let a paused expert, or one who failed the qualification, work again."""
    return _act(request, code, user_id, REINSTATE)


@require_http_methods(["GET", "POST"])
@login_required
def retake(request: HttpRequest, code: str, user_id: int) -> HttpResponse:
    """GET: ask; POST: open a retake now for an expert who failed the qualification."""
    return _act(request, code, user_id, RETAKE)


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
