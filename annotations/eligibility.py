"""Which items an expert may be sent, and which of them are open to them now (read-only).

Serving, submission and the "items left" figures all ask here, so they never disagree.
"""

from datetime import datetime
from types import EllipsisType

from django.db import connection
from django.db.models import Q, QuerySet

from annotations.models import Annotation, Assignment, Skip
from annotations.queries import annotations_per_item, live_leases_per_item
from labelhub.experts import expert_eligible_domains
from labelhub.models import User
from labelhub.rows import columns, fetch
from projects.models import Item, Project

Status = Assignment.Status


def items_eligible_for(
    items: QuerySet[Item], *, expert: User, domains: list[str] | EllipsisType | None = ...
) -> QuerySet[Item]:
    """`items` narrowed to those `expert` may be sent: none unless their expert profile is vetted,
    then the items with no domain and those in a domain they are vetted for. (`domains`: the
    expert's eligible domains when the caller has read them already.)

    Serving and the "items left" figures both filter through here, so they never disagree.
    """
    if domains is ...:
        domains = expert_eligible_domains(user=expert)
    if domains is None:
        return items.none()
    # A paused or archived project serves nothing; a required domain bars experts not vetted for it.
    return items.filter(
        Q(domain="") | Q(domain__in=domains),
        Q(project__required_domain="") | Q(project__required_domain__in=domains),
        project__status=Project.Status.ACTIVE,
    )


def item_eligible(item: Item, *, project: Project, domains: frozenset[str] | None) -> bool:
    """`items_eligible_for`'s rule for one item already in hand (`project` being its project),
    without a query. The two are kept side by side and tested against each other."""
    if domains is None or project.status != Project.Status.ACTIVE:
        return False
    return (not item.domain or item.domain in domains) and (
        not project.required_domain or project.required_domain in domains
    )


def items_open_to(
    *, project: Project, expert: User, now: datetime, domains: list[str] | EllipsisType | None = ...
) -> QuerySet[Item]:
    """Items of `project` still short of labels that `expert` has neither labelled nor skipped,
    among those `expert` is eligible for (see `items_eligible_for`)."""
    return (
        items_eligible_for(Item.objects.filter(project=project), expert=expert, domains=domains)
        .exclude(annotations__expert=expert)
        .exclude(skips__expert=expert)
        # The first filter is implied by the second; it lets the serving-order index skip the
        # full items instead of counting each one's labels and leases.
        .filter(n_labels__lt=project.labels_per_item)
        .alias(n_taken=annotations_per_item() + live_leases_per_item(now, excluding=expert))
        .filter(n_taken__lt=project.labels_per_item)
    )


def gold_items_open_to(
    *, project: Project, expert: User, domains: list[str] | EllipsisType | None = ...
) -> QuerySet[Item]:
    """Gold checks of `project` that `expert` may be sent and has not answered or skipped. A gold
    item has no overlap: every expert can be checked on it."""
    return (
        items_eligible_for(Item.objects.filter(project=project, is_gold=True), expert=expert, domains=domains)
        .exclude(annotations__expert=expert)
        .exclude(skips__expert=expert)
    )


def ranked_open_items(
    *, project: Project, expert: User, now: datetime, domains: frozenset[str] | None
) -> QuerySet[Item]:
    """The items `next_open_item` serves, in its order, as a queryset."""
    open_items = items_open_to(project=project, expert=expert, now=now, domains=domains).filter(is_gold=False)
    return open_items.order_by("-n_labels", "-priority", "pk")


def slots_taken_sql(*, now: datetime, expert: User) -> tuple[str, list[object]]:
    """SQL for how many slots of the item `i` are taken for `expert`: its labels plus the others'
    live leases. `items_open_to`'s count, written out once for the two statements that run on
    every lease (`next_open_item` and `item_has_room`); a test checks it against `items_open_to`."""
    sql = f"""((SELECT COUNT(*) FROM {Annotation._meta.db_table} a WHERE a.item_id = i.id)
        + (SELECT COUNT(*) FROM {Assignment._meta.db_table} s WHERE s.item_id = i.id
           AND s.status = %s AND s.expires_at > %s AND s.expert_id <> %s))"""
    return sql, [Status.ACTIVE, connection.ops.adapt_datetimefield_value(now), expert.pk]


def item_has_room(*, item: Item, project: Project, expert: User, now: datetime) -> bool:
    """Whether `item` has a slot for `expert`, counted by a fresh statement (callers hold the
    item's lock)."""
    if item.is_gold:
        return True  # a gold check has no overlap: every expert may answer it
    taken, params = slots_taken_sql(now=now, expert=expert)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {taken} FROM {Item._meta.db_table} i WHERE i.id = %s", [*params, item.pk])
        (count,) = cursor.fetchone()
    return count < project.labels_per_item


def next_open_item(
    *,
    project: Project,
    expert: User,
    now: datetime,
    domains: frozenset[str] | None,
    tried: list[int] | None = None,
    lock: bool = True,
) -> Item | None:
    """The first item of `items_open_to(...)` that is not a gold check, in serving order (partly
    labelled first, then priority, then import order), leaving out `tried`; with `lock`, its row
    is locked unless someone else holds it, in which case the next one is taken (PostgreSQL).

    The same rule as `items_open_to`, written out as one statement because it runs on every lease
    (compiling the ORM query cost more than running it); a test checks that the two agree.

    The expert's own labels and skips in the project are left out by `NOT IN` over their item
    ids, read from the (expert, project, item) indexes once per statement into a hash. Partly
    labelled items come first, so an expert ahead of the others has all their own labelled items
    at the head of the order; with a correlated `NOT EXISTS` each of those cost an index probe
    and two counts on every request.
    """
    if domains is None:
        return None
    item, annotation, skip, project_table = (
        Item._meta.db_table,
        Annotation._meta.db_table,
        Skip._meta.db_table,
        Project._meta.db_table,
    )
    params: list[object] = [project.pk, False, Project.Status.ACTIVE]
    in_domains = ""
    if domains:
        placeholders = ", ".join(["%s"] * len(domains))
        in_domains = f" OR {{column}} IN ({placeholders})"
    item_domain = "i.domain = ''" + in_domains.format(column="i.domain")
    required = "p.required_domain = ''" + in_domains.format(column="p.required_domain")
    params += [*sorted(domains), *sorted(domains)]
    params += [project.labels_per_item, expert.pk, project.pk, expert.pk, project.pk]
    taken, taken_params = slots_taken_sql(now=now, expert=expert)
    params += [*taken_params, project.labels_per_item]
    not_tried = ""
    if tried:
        not_tried = f"AND i.id NOT IN ({', '.join(['%s'] * len(tried))})"
        params += tried
    sql = f"""
        SELECT {columns(Item, "i")} FROM {item} i JOIN {project_table} p ON p.id = i.project_id
        WHERE i.project_id = %s AND i.is_gold = %s AND p.status = %s
          AND ({item_domain}) AND ({required})
          AND i.n_labels < %s
          AND i.id NOT IN (SELECT a.item_id FROM {annotation} a WHERE a.expert_id = %s AND a.project_id = %s)
          AND i.id NOT IN (SELECT k.item_id FROM {skip} k WHERE k.expert_id = %s AND k.project_id = %s)
          AND {taken} < %s
          {not_tried}
        ORDER BY i.n_labels DESC, i.priority DESC, i.id
        LIMIT 1"""
    if lock and connection.vendor == "postgresql":
        # Only the item's row: locking the joined project would queue every expert on it.
        sql += " FOR NO KEY UPDATE OF i SKIP LOCKED"
    found = fetch(sql, params, Item)
    return None if found is None else found[0]
