"""Importing items through the admin: upload and check, then confirm.

The same reader (`projects.importing`) and the same services (`projects.services`) as the
`import_items` command, so the rules cannot drift apart. Checking a file parses and plans it
without writing anything and keeps the upload on disk under a random name. The confirmation
carries only a signed token naming that file, the user, the project, the format and the file's
hash: the file is sent once, and nobody can swap it or replay someone else's confirmation.
"""

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from labelhub.audit import Action, audit_record
from labelhub.models import User
from projects.importing import LineError, detect_format, parse_items
from projects.models import Project
from projects.permissions import Perm, project_for, projects_for
from projects.services import ImportRejected, ImportReport, items_import, items_plan

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
TOKEN_MAX_AGE = 60 * 60  # seconds a checked upload waits for its confirmation
TOKEN_SALT = "projects.admin_import"
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
TEMPLATE = "admin/projects/item/import.html"
FORMATS = [("", "From the file name (.jsonl or .csv)"), ("jsonl", "JSONL"), ("csv", "CSV")]


def import_dir() -> Path:
    """Where checked uploads wait for their confirmation (tests point it at a temporary folder)."""
    return Path(getattr(settings, "ITEM_IMPORT_DIR", settings.BASE_DIR / "var" / "imports"))


class StaleImport(Exception):
    """A confirmation that cannot go ahead; the message tells the user what to do."""


class ProjectChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Project) -> str:
        return f"{obj.client.name} — {obj.name} ({obj.slug})"


class ItemImportForm(forms.Form):
    project = ProjectChoice(queryset=Project.objects.none())
    file = forms.FileField(help_text="A .jsonl or .csv file of at most 50 MB.")
    format = forms.ChoiceField(choices=FORMATS, required=False)
    update = forms.BooleanField(
        required=False,
        label="Replace changed items",
        help_text="Items whose id exists with different content are replaced (unlabelled items only).",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The choices are the firewall's answer: managers see their projects, staff all.
        self.fields["project"].queryset = (
            projects_for(user, Perm.MANAGE).select_related("client").order_by("client__name", "name")
        )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                f"The file is {upload.size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB. "
                "Split it into smaller files."
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        if upload is not None and not data.get("format"):
            try:
                data["format"] = detect_format(upload.name)
            except ValueError as exc:
                self.add_error("format", f"{exc}, or choose the format here.")
        return data


@dataclass
class ImportCheck:
    """What the report page shows about one file."""

    filename: str
    project: Project
    fmt: str
    update: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)
    token: str = ""  # set only when the file is clean and would change something

    @property
    def to_write(self) -> int:
        return self.created + self.updated


# --- the upload kept between the two steps ---


def _sweep(folder: Path) -> None:
    # Uploads whose confirmation never came, or whose import failed midway.
    cutoff = time.time() - TOKEN_MAX_AGE
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _stash(data: bytes, *, user: User, check: ImportCheck) -> str:
    folder = import_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder)
    key = secrets.token_hex(16)
    (folder / f"{key}.upload").write_bytes(data)
    payload = {
        "key": key,
        "user": user.pk,
        "project": check.project.pk,
        "format": check.fmt,
        "update": check.update,
        "filename": check.filename,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return signing.dumps(payload, salt=TOKEN_SALT, compress=True)


def _ticket(token: str, *, user: User) -> dict[str, Any]:
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise StaleImport("This check has expired. Upload the file again.") from exc
    except signing.BadSignature as exc:
        raise StaleImport("This confirmation is not valid. Upload the file again.") from exc
    # Someone else's token reads exactly like a forged one: it reveals nothing about its import.
    if payload.get("user") != user.pk or not KEY_PATTERN.fullmatch(str(payload.get("key"))):
        raise StaleImport("This confirmation is not valid. Upload the file again.")
    return payload


def _claim(ticket: dict[str, Any]) -> bytes:
    """The checked upload, taken so that a second click on the button cannot import it again."""
    waiting = import_dir() / f"{ticket['key']}.upload"
    claimed = waiting.with_suffix(".claimed")
    try:
        waiting.rename(claimed)  # atomic: exactly one confirmation gets the file
    except FileNotFoundError as exc:
        raise StaleImport("This file was already imported, or its check expired. Upload it again.") from exc
    try:
        data = claimed.read_bytes()
    finally:
        claimed.unlink(missing_ok=True)
    if hashlib.sha256(data).hexdigest() != ticket["sha256"]:
        raise StaleImport("The stored file changed after it was checked. Upload it again.")
    return data


# --- the steps ---


def _in_admin_words(error: LineError) -> LineError:
    # The planner speaks to the command line; here the option is a checkbox.
    hint = "use --update to replace it"
    if hint not in error.message:
        return error
    return LineError(error.line, error.message.replace(hint, 'tick "Replace changed items" to replace it'))


def _check(request: HttpRequest, cleaned: dict[str, Any]) -> ImportCheck:
    upload, project = cleaned["file"], cleaned["project"]
    data = upload.read()
    parsed = parse_items(data, fmt=cleaned["format"], kind=project.kind)
    plan = items_plan(project=project, records=parsed.items, update=cleaned["update"])
    check = ImportCheck(
        filename=Path(upload.name).name,
        project=project,
        fmt=cleaned["format"],
        update=cleaned["update"],
        created=plan.created,
        updated=plan.updated,
        unchanged=plan.unchanged,
        errors=sorted(map(_in_admin_words, parsed.errors + plan.errors), key=lambda error: error.line),
    )
    if not check.errors and check.to_write:
        check.token = _stash(data, user=request.user, check=check)
    return check


def _confirm(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    try:
        ticket = _ticket(request.POST["token"], user=request.user)
        # Rights are weighed again: they may have changed since the check (foreign → 404).
        project = project_for(request.user, Perm.MANAGE, pk=ticket["project"])
        data = _claim(ticket)
    except StaleImport as stale:
        return _render(request, model_admin, form=ItemImportForm(user=request.user), problem=str(stale))
    check = ImportCheck(ticket["filename"], project, ticket["format"], ticket["update"])
    try:
        report = _store(request, check, data, sha256=ticket["sha256"])
    except ImportRejected as rejected:
        # The project changed between the check and the confirmation; nothing was stored.
        check.errors = [_in_admin_words(error) for error in rejected.errors]
        return _render(request, model_admin, form=_form_for(request, check), check=check)
    messages.success(
        request,
        f"Imported {check.filename} into {project.name}: {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged.",
    )
    changelist = reverse(f"{model_admin.admin_site.name}:projects_item_changelist")
    return HttpResponseRedirect(f"{changelist}?project__id__exact={project.pk}")


@transaction.atomic
def _store(request: HttpRequest, check: ImportCheck, data: bytes, *, sha256: str) -> ImportReport:
    """Import the file and record it in the audit trail, both or neither."""
    parsed = parse_items(data, fmt=check.fmt, kind=check.project.kind)
    if parsed.errors:
        raise ImportRejected(parsed.errors)
    report = items_import(project=check.project, records=parsed.items, update=check.update)
    counts = {"created": report.created, "updated": report.updated, "unchanged": report.unchanged}
    audit_record(
        action=Action.ADMIN_ADDED,
        actor=request.user,
        project=check.project,
        request=request,
        target=f"import {check.filename}",
        detail={**counts, "format": check.fmt, "update": check.update, "sha256": sha256},
    )
    return report


def _form_for(request: HttpRequest, check: ImportCheck) -> ItemImportForm:
    initial = {"project": check.project.pk, "format": check.fmt, "update": check.update}
    return ItemImportForm(user=request.user, initial=initial)


def _render(
    request: HttpRequest,
    model_admin: ModelAdmin,
    *,
    form: ItemImportForm,
    check: ImportCheck | None = None,
    problem: str = "",
) -> HttpResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Import items",
        "opts": model_admin.model._meta,
        "has_view_permission": model_admin.has_view_permission(request),
        "form": form,
        "check": check,
        "problem": problem,
        "max_megabytes": MAX_UPLOAD_BYTES // 2**20,
    }
    return TemplateResponse(request, TEMPLATE, context, status=400 if problem else 200)


def item_import(request: HttpRequest, model_admin: ModelAdmin) -> HttpResponse:
    """GET: the upload form. POST: check a file (writes nothing), or confirm a checked one."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied("Your role does not allow importing items.")
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, model_admin)
    if request.method != "POST":
        form = ItemImportForm(user=request.user, initial={"project": request.GET.get("project")})
        return _render(request, model_admin, form=form)
    form = ItemImportForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _render(request, model_admin, form=form)
    check = _check(request, form.cleaned_data)
    return _render(request, model_admin, form=_form_for(request, check), check=check)
