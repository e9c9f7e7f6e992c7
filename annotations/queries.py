"""Query pieces shared by serving, progress pages and exports."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import Http404

from annotations.models import Annotation, Assignment
from labelhub.rows import columns, fetch
from projects.models import Item, Membership, Project, Response


def is_label() -> Q:
    """What counts as a label, for an annotation: all but the answers to a qualification, which
    test an expert and are never data (figures, gold accuracy and exports leave them out)."""
    return Q(item__is_qualification=False)


@dataclass(frozen=True)
class LeftOut:
    """What an export leaves out of a project's annotations: the answers to its qualification
    (never data) and, unless asked to keep them, the labels of experts paused on it by the
    quality controls (flagged as such when kept). Read once per export, before its rows stream;
    the streamed statements take the two id lists as parameters, the ORM paths `apply` them."""

    items: tuple[int, ...]  # qualification items
    experts: tuple[int, ...]  # paused experts, when their labels are left out

    def apply(self, queryset: QuerySet, *, path: str = "") -> QuerySet:
        """`queryset` (of annotations, or rows reached from one through `path`, e.g.
        "annotation__") without what is left out."""
        return queryset.exclude(**{f"{path}item_id__in": self.items}).exclude(
            **{f"{path}expert_id__in": self.experts}
        )

    @property
    def params(self) -> dict[str, list[int]]:
        return {"left_out_items": list(self.items), "left_out_experts": list(self.experts)}


def left_out_sql(alias: str) -> str:
    """The streamed statements' form of `LeftOut.apply`, on the rows `alias` (annotations, or
    skips: both have an item and an expert)."""
    return f"{alias}.item_id <> ALL(%(left_out_items)s) AND {alias}.expert_id <> ALL(%(left_out_experts)s)"


LEFT_OUT_SQL = left_out_sql("a")


def paused_experts(project: Project) -> list[int]:
    """The experts the quality controls paused on `project` (their current membership)."""
    return list(
        Membership.objects.filter(
            project=project, ended_at__isnull=True, quality_status=Membership.QualityStatus.PAUSED
        ).values_list("user_id", flat=True)
    )


def left_out_of_exports(project: Project, *, include_paused: bool = False) -> LeftOut:
    qualification = Item.objects.filter(project=project, is_qualification=True).values_list("pk", flat=True)
    return LeftOut(
        items=tuple(qualification), experts=() if include_paused else tuple(paused_experts(project))
    )


def gold_expected() -> KeyTextTransform:
    """For an annotation, the answer its item expects if it is a gold check: an annotation is
    correct gold when its preference equals this (progress pages and quality figures alike)."""
    return KeyTextTransform("preference", "item__gold_answer")


def gold_correct() -> Q:
    return Q(item__is_gold=True, preference=gold_expected())


def per_item_count(queryset: QuerySet) -> Coalesce:
    """A correlated subquery counting `queryset`'s rows for the outer item (0 when none)."""
    counted = (
        queryset.filter(item=OuterRef("pk")).order_by().values("item").annotate(n=Count("pk")).values("n")[:1]
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def live_leases(now: datetime) -> Q:
    return Q(status=Assignment.Status.ACTIVE, expires_at__gt=now)


def annotations_per_item() -> Coalesce:
    return per_item_count(Annotation.objects.all())


def live_leases_per_item(now: datetime, *, excluding=None) -> Coalesce:
    leases = Assignment.objects.filter(live_leases(now))
    if excluding is not None:
        leases = leases.exclude(expert=excluding)
    return per_item_count(leases)


def _assignment_with_item(*, project, where: str, params: list) -> Assignment | None:
    """The first assignment of `project` matching `where` (on `a`), with its item, and `project`
    (the one the caller holds, not a second read of it). Hand-written: the lookups below run on
    every labelling request, and compiling the ORM's join cost more than running it."""
    found = fetch(
        f"""SELECT {columns(Assignment, "a")}, {columns(Item, "i")}
            FROM {Assignment._meta.db_table} a JOIN {Item._meta.db_table} i ON i.id = a.item_id
            WHERE a.project_id = %s AND {where}""",
        [project.pk, *params],
        Assignment,
        Item,
    )
    if found is None:
        return None
    assignment, item = found
    assignment.item, assignment.project = item, project
    return assignment


def own_assignment(*, user, project, assignment_id: int) -> Assignment:
    """`user`'s assignment `assignment_id` in `project` (already checked by the permission door),
    with its item; 404 for anyone else's."""
    assignment = _assignment_with_item(
        project=project, where="a.id = %s AND a.expert_id = %s", params=[assignment_id, user.pk]
    )
    if assignment is None:
        raise Http404("No such assignment.")
    return assignment


def open_lease(*, project, expert) -> Assignment | None:
    """The expert's open lease in `project` (live or lapsed; at most one, a database
    constraint), with its item."""
    return _assignment_with_item(
        project=project,
        where="a.expert_id = %s AND a.status = %s",
        params=[expert.pk, Assignment.Status.ACTIVE],
    )


def response_texts(item: Item) -> dict[int, str]:
    """`item`'s responses' texts by position. Hand-written: it runs on every item served."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT position, content FROM {Response._meta.db_table} WHERE item_id = %s", [item.pk]
        )
        return dict(cursor.fetchall())
