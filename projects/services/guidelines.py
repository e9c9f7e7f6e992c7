"""New versions of a project's guidelines, and each showing of them (its fingerprint)."""

from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest

from labelhub.audit import Action, audit_record
from labelhub.models import User
from projects.fingerprints import strip_marks
from projects.models import Guideline, GuidelineView, Project


@transaction.atomic
def guideline_publish(*, project: Project, body: str, author: User | None) -> Guideline:
    """Add a new version of the project's guidelines; earlier versions stay as they were."""
    # Lock the project so two editors saving at once get versions n+1 and n+2, not a clash.
    # NO KEY UPDATE: it must not block the foreign-key checks of experts writing meanwhile.
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    latest = project.guidelines.aggregate(v=Max("version"))["v"] or 0
    # Text pasted from a rendered page carries its viewer's fingerprint; it must not be stored,
    # or every later copy would name that viewer too.
    guideline = Guideline(project=project, version=latest + 1, body=strip_marks(body), created_by=author)
    guideline.full_clean()
    guideline.save()
    return guideline


@transaction.atomic
def guideline_view_record(
    *, guideline: Guideline, viewer: User, request: HttpRequest | None = None, since: datetime | None = None
) -> GuidelineView:
    """Record one showing of `guideline` to `viewer`; its id becomes the text's fingerprint.
    With `since`, a showing to them recorded since then is given back instead of a new one: the
    fingerprint names the same reader, and a page reloaded in a loop adds nothing to the trail."""
    if since is not None:
        shown = GuidelineView.objects.filter(guideline=guideline, viewer=viewer, viewed_at__gte=since)
        if (view := shown.order_by("-pk").first()) is not None:
            return view
    view = GuidelineView.objects.create(guideline=guideline, viewer=viewer)
    audit_record(
        action=Action.GUIDELINE_VIEWED,
        actor=viewer,
        project=guideline.project,
        request=request,
        target=f"guidelines v{guideline.version}",
        detail={"view_id": view.pk},
    )
    return view
