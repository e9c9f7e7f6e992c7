"""Pages for experts (labelling) and for managers and client viewers (progress, export)."""

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotations import services
from annotations.exports import export_lines
from annotations.forms import ExportForm, PairwiseForm, SkipForm
from annotations.models import Assignment
from annotations.progress import items_left_for, project_progress
from projects.models import Project
from projects.permissions import Perm, project_for, projects_for


def _task_context(
    project: Project, assignment: Assignment | None, form: PairwiseForm | None = None, notice: str = ""
) -> dict:
    context = {
        "project": project,
        "assignment": assignment,
        "form": form,
        "notice": notice,
        "guideline": services.current_guideline(project),
        "skip_form": SkipForm(),
    }
    if assignment is not None:
        responses = {r.position: r for r in assignment.item.responses.all()}
        context["left"], context["right"] = (responses[p] for p in assignment.display_order)
        context["idempotency_key"] = form["idempotency_key"].value() if form else uuid.uuid4()
    return context


def _render_task(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    template = "annotations/label.html#task" if request.htmx else "annotations/label.html"
    return render(request, template, context, status=status)


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    labelling = projects_for(request.user, Perm.LABEL).order_by("codename")
    left = items_left_for(expert=request.user, projects=labelling)
    overseeing = projects_for(request.user, Perm.EXPORT).select_related("client").order_by("slug")
    return render(
        request,
        "annotations/home.html",
        {
            "labelling": [(project, left.get(project.pk, 0)) for project in labelling],
            "overseeing": overseeing,
        },
    )


@require_GET
@login_required
def label(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, Perm.LABEL)
    assignment = services.assignment_next(project=project, expert=request.user)
    return _render_task(request, _task_context(project, assignment))


@require_POST
@login_required
def submit(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    project = project_for(request.user, slug, Perm.LABEL)
    assignment = get_object_or_404(Assignment, pk=assignment_id, project=project, expert=request.user)
    form = PairwiseForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors)
        services.annotation_submit(
            assignment=assignment,
            expert=request.user,
            judgment=form.judgment(),
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except ValidationError as error:
        # Keep what the expert typed and say what is wrong, field by field.
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            form.add_error(None, error.messages)
        return _render_task(request, _task_context(project, assignment, form), status=422)
    except services.LeaseLost as lost:
        next_assignment = services.assignment_next(project=project, expert=request.user)
        return _render_task(request, _task_context(project, next_assignment, notice=str(lost)))
    if not request.htmx:
        return redirect("annotations:label", slug=project.slug)
    next_assignment = services.assignment_next(project=project, expert=request.user)
    return _render_task(request, _task_context(project, next_assignment, notice="Saved."))


@require_POST
@login_required
def skip(request: HttpRequest, slug: str, assignment_id: int) -> HttpResponse:
    project = project_for(request.user, slug, Perm.LABEL)
    assignment = get_object_or_404(Assignment, pk=assignment_id, project=project, expert=request.user)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _render_task(
            request, _task_context(project, assignment, notice="Choose a reason to skip."), 422
        )
    try:
        services.assignment_skip(
            assignment=assignment,
            expert=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as error:
        return _render_task(request, _task_context(project, assignment, notice=" ".join(error.messages)), 422)
    if not request.htmx:
        return redirect("annotations:label", slug=project.slug)
    next_assignment = services.assignment_next(project=project, expert=request.user)
    return _render_task(request, _task_context(project, next_assignment, notice="Skipped."))


@require_GET
@login_required
def guidelines(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, Perm.VIEW)
    return render(
        request,
        "annotations/guidelines.html",
        {"project": project, "guideline": services.current_guideline(project)},
    )


@require_GET
@login_required
def project_overview(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, Perm.EXPORT)
    return render(
        request,
        "annotations/project.html",
        {
            "project": project,
            "progress": project_progress(project),
            "export_form": ExportForm(),
        },
    )


@require_POST
@login_required
def export(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug, Perm.EXPORT)
    form = ExportForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "annotations/project.html",
            {
                "project": project,
                "progress": project_progress(project),
                "export_form": form,
            },
            status=400,
        )
    fmt = form.cleaned_data["format"]
    response = StreamingHttpResponse(
        export_lines(project, fmt), content_type="application/jsonl; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{fmt}.jsonl"'
    return response
