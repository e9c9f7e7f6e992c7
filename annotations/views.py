"""Pages for experts (labelling) and for managers and client viewers (progress, export)."""

import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotations import services
from annotations.bundle import bundle_archive
from annotations.charts import CHARTS, labels_per_day
from annotations.downloads import export_download
from annotations.eligibility import expert_standing, standing_notice
from annotations.forms import ExportForm, LabelForm, SkipForm
from annotations.models import CRITERION_NOTE_MAX_CHARS, REASON_MAX_CHARS, Assignment, Draft
from annotations.progress import experts_held_back, items_left_for, project_progress
from annotations.queries import own_assignment
from annotations.rating import rating_blocks
from labelhub.audit import Action, audit_record
from labelhub.charts import chart_download
from labelhub.experts import expert_status
from labelhub.models import ExpertProfile
from labelhub.resilience import safe_to_retry
from labelhub.throttling import throttled
from projects.guidelines import guideline_show
from projects.models import Project
from projects.permissions import Perm, has_project_perm, project_for, projects_for
from projects.rubrics import current_criteria


def _task_context(
    project: Project, assignment: Assignment | None, form: LabelForm | None = None, notice: str = ""
) -> dict:
    context = {
        "project": project,
        "assignment": assignment,
        "form": form,
        "notice": notice,
        "skip_form": SkipForm(),
    }
    if assignment is not None:
        responses = {r.position: r for r in assignment.item.responses.all()}
        if project.compares:
            context["left"], context["right"] = (responses[p] for p in assignment.display_order)
        if project.rates:
            context.update(_rating_context(project, assignment, responses, form))
        context["idempotency_key"] = form["idempotency_key"].value() if form else uuid.uuid4()
        if form is None:  # a fresh form: put back what the expert had entered before, if anything
            saved = Draft.objects.filter(assignment=assignment).first()
            context["draft"] = saved.fields if saved else None
    return context


def _rating_context(
    project: Project, assignment: Assignment, responses: dict, form: LabelForm | None
) -> dict:
    # Rate-then-choose shows the pair as A and B, in display order; a rubric shows 1..N in item order.
    order = assignment.display_order if project.compares else sorted(responses)
    labels = ["A", "B"] if project.compares else [str(n) for n in range(1, len(order) + 1)]
    criteria = current_criteria(project)
    errors = form.rating_errors if form else {}
    return {
        "rubric_version": criteria[0].version if criteria else "",
        "rating_error": errors.get("ratings", ""),
        "criterion_note_max": CRITERION_NOTE_MAX_CHARS,
        "reason_max": REASON_MAX_CHARS,
        "rating_blocks": rating_blocks(
            responses=[responses[p] for p in order],
            labels=labels,
            criteria=criteria,
            data=form.data if form else {},
            errors=errors,
        ),
    }


# Why an expert is sent no items at all, by vetting status (None: they have no profile yet).
VETTING_NOTICES = {
    None: "Your expert profile has not been vetted yet. Items are sent to you once a LabelHub "
    "administrator has vetted your credentials.",
    ExpertProfile.Status.APPLIED: "Your expert profile is awaiting vetting. Items are sent to you once "
    "a LabelHub administrator has vetted your credentials.",
    ExpertProfile.Status.REJECTED: "Your expert application was not accepted, so no items are sent to "
    "you. Ask your project manager if you think this is a mistake.",
    ExpertProfile.Status.SUSPENDED: "Your expert profile is suspended, so no items are sent to you for "
    "now. Your project manager can tell you more.",
}


def _vetting_notice(request: HttpRequest) -> str:
    return VETTING_NOTICES.get(expert_status(user=request.user), "")


def _render_task(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    standing = expert_standing(project=context["project"], expert=request.user, now=timezone.now())
    context["standing"], context["standing_notice"] = standing.standing.value, standing_notice(standing)
    if context["assignment"] is None:
        context["vetting_notice"] = _vetting_notice(request)
    if request.htmx:
        return render(request, "annotations/label.html#task", context, status=status)
    # A full page shows the guidelines beside the task: that is a guideline view, fingerprinted.
    # One per lease (per lease length when there is no item) traces a leak to its reader as well
    # as one per reload would, and reloading in a loop cannot fill the audit trail.
    project, assignment = context["project"], context["assignment"]
    since = assignment.leased_at if assignment else timezone.now() - timedelta(minutes=project.lease_minutes)
    context["shown"] = guideline_show(project=project, viewer=request.user, request=request, since=since)
    return render(request, "annotations/label.html", context, status=status)


def _assignment(request: HttpRequest, project: Project, assignment_id: int) -> Assignment:
    return own_assignment(user=request.user, project=project, assignment_id=assignment_id)


@safe_to_retry
@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    labelling = projects_for(request.user, Perm.LABEL).order_by("codename")
    left = items_left_for(expert=request.user, projects=labelling)
    overseeing = projects_for(request.user, Perm.EXPORT).select_related("client").order_by("name")
    return render(
        request,
        "annotations/home.html",
        {
            "labelling": [(project, left.get(project.pk, 0)) for project in labelling],
            "vetting_notice": _vetting_notice(request) if labelling else "",
            "overseeing": overseeing,
        },
    )


@safe_to_retry
@require_GET
@login_required
@throttled()
def label(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.LABEL, code=code)
    assignment = services.assignment_next(project=project, expert=request.user)
    return _render_task(request, _task_context(project, assignment))


@safe_to_retry  # the idempotency key stores one annotation however often this runs
@require_POST
@login_required
@throttled()
def submit(request: HttpRequest, code: str, assignment_id: int) -> HttpResponse:
    project = project_for(request.user, Perm.LABEL, code=code)
    assignment = _assignment(request, project, assignment_id)
    form = LabelForm(request.POST, project=project, item=assignment.item)
    # Whatever is wrong, the page keeps what the expert typed and says what, field by field.
    if not form.is_valid():
        return _render_task(request, _task_context(project, assignment, form), status=422)
    try:
        services.annotation_submit(
            assignment=assignment,
            expert=request.user,
            judgment=form.cleaned_data["judgment"],
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ValidationError as error:  # what changed since the page was sent (a pause, a skip…)
        form.add_service_errors(error)
        return _render_task(request, _task_context(project, assignment, form), status=422)
    except services.LeaseLost as lost:
        return _next_task(request, project, notice=str(lost))
    except services.KeyReused as reused:
        # What the expert entered stays; the form gets a key of its own for the next attempt.
        context = _task_context(project, assignment, form, notice=str(reused))
        context["idempotency_key"] = uuid.uuid4()
        return _render_task(request, context, status=422)
    return _next_task(request, project, notice="Saved.")


@safe_to_retry
@require_POST
@login_required
@throttled()
def skip(request: HttpRequest, code: str, assignment_id: int) -> HttpResponse:
    project = project_for(request.user, Perm.LABEL, code=code)
    assignment = _assignment(request, project, assignment_id)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _render_task(request, _task_context(project, assignment, notice=form.error_notice()), 422)
    try:
        services.assignment_skip(
            assignment=assignment,
            expert=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as error:
        return _render_task(request, _task_context(project, assignment, notice=" ".join(error.messages)), 422)
    return _next_task(request, project, notice="Skipped.")


def _on_own_lease(
    request: HttpRequest, code: str, assignment_id: int, act: Callable[[Assignment], dict]
) -> JsonResponse:
    """Run `act` on the expert's own assignment and answer in JSON: 409 when the lease went to
    someone else, 400 with the reason when the request cannot be met."""
    project = project_for(request.user, Perm.LABEL, code=code)
    assignment = _assignment(request, project, assignment_id)
    try:
        return JsonResponse(act(assignment))
    except services.LeaseLost as lost:
        return JsonResponse({"error": str(lost)}, status=409)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)


@safe_to_retry
@require_POST
@login_required
@throttled(json=True)
def heartbeat(request: HttpRequest, code: str, assignment_id: int) -> JsonResponse:
    """The page is in use: extend the lease."""

    def extend(assignment: Assignment) -> dict:
        extended = services.assignment_extend(assignment=assignment, expert=request.user)
        return {"expires_at": extended.expires_at.isoformat()}

    return _on_own_lease(request, code, assignment_id, extend)


@safe_to_retry
@require_POST
@login_required
@throttled(json=True)
def draft(request: HttpRequest, code: str, assignment_id: int) -> JsonResponse:
    """Autosave: keep the form as it stands (sent as the form itself), and extend the lease."""

    def save(assignment: Assignment) -> dict:
        fields = dict(request.POST.lists())
        saved = services.draft_save(assignment=assignment, expert=request.user, fields=fields)
        return {"expires_at": saved.assignment.expires_at.isoformat(), "saved_at": saved.saved_at.isoformat()}

    return _on_own_lease(request, code, assignment_id, save)


def _next_task(request: HttpRequest, project: Project, notice: str) -> HttpResponse:
    if not request.htmx:  # post/redirect/get, so a reload never re-submits
        return redirect("annotations:label", code=project.code)
    assignment = services.assignment_next(project=project, expert=request.user)
    return _render_task(request, _task_context(project, assignment, notice=notice))


@require_GET
@login_required
def guidelines(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.VIEW, code=code)
    shown = guideline_show(project=project, viewer=request.user, request=request)
    return render(request, "annotations/guidelines.html", {"project": project, "shown": shown})


def _overview(
    request: HttpRequest, project: Project, export_form: ExportForm, status: int = 200
) -> HttpResponse:
    # Client viewers see annotators only by pseudonym; the vendor's managers know their experts.
    identify = has_project_perm(request.user, project, Perm.MANAGE)
    return render(
        request,
        "annotations/project.html",
        {
            "project": project,
            "progress": project_progress(project, identify_experts=identify),
            "held_back": experts_held_back(project),
            "export_form": export_form,
            "can_manage": identify,
            "skip_flag_min": settings.SKIP_FLAG_MIN,
            "labels_chart": labels_per_day(project),
        },
        status=status,
    )


@safe_to_retry
@require_GET
@login_required
def project_overview(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.EXPORT, code=code)
    return _overview(request, project, ExportForm())


@safe_to_retry
@require_GET
@login_required
@throttled()
def chart(request: HttpRequest, code: str, chart: str, fmt: str) -> HttpResponse:
    """A chart of the project page as a file (`fmt`: svg or csv), to whoever may see the page."""
    project = project_for(request.user, Perm.EXPORT, code=code)
    if chart not in CHARTS:
        raise Http404("No such chart.")
    return chart_download(labels_per_day(project), fmt=fmt, stem=project.slug)


def _bundle_download(request: HttpRequest, project: Project, form: ExportForm) -> HttpResponse:
    try:
        archive = bundle_archive(project=project, options=form.cleaned_data["options"])
    except ValueError as refused:
        form.add_error(None, str(refused))
        return _overview(request, project, form, status=400)
    audit_record(
        action=Action.EXPORT_DOWNLOADED,
        actor=request.user,
        project=project,
        request=request,
        target="export bundle",
        detail={"format": "bundle", "via": "web"},
    )
    # Streamed from a temporary file, which is deleted when the response closes it.
    return FileResponse(archive, as_attachment=True, filename=f"{project.slug}-bundle.zip")


@require_POST
@login_required
def export(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.EXPORT, code=code)
    form = ExportForm(request.POST)
    if not form.is_valid():
        return _overview(request, project, form, status=400)
    fmt = form.cleaned_data["format"]
    if fmt == "bundle":
        return _bundle_download(request, project, form)
    try:
        return export_download(
            project=project, fmt=fmt, options=form.cleaned_data["options"], request=request, via="web"
        )
    except ValueError as refused:
        form.add_error(None, str(refused))
        return _overview(request, project, form, status=400)
