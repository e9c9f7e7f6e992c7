"""Writes to projects, memberships, guidelines and items. One function per action."""

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm
from psycopg.types.json import set_json_dumps

from labelhub.audit import Action, audit_record
from labelhub.fastjson import canonical_json
from labelhub.models import User
from projects.fingerprints import strip_marks
from projects.importing import ItemRecord, ItemStream, LineError
from projects.models import Client, Guideline, GuidelineView, Item, Membership, Project, Response
from projects.permissions import (
    ROLE_PERMS,
    ROLE_RANK,
    Perm,
    is_staff,
    may_manage_members,
    projects_for,
    role_rank,
)


class GrantRefused(ValidationError):
    """A role grant or revocation that the rules forbid; the message says which rule."""


# What a manager is told when the person they name may not join: never that the account is staff
# or works for a competitor (nor, in the admin, that there is no such account). Code "person".
PERSON_REFUSED = "This person cannot be added."


def _person_refused(granted_by: User, reason: str) -> GrantRefused:
    """The refusal of a grant because of who the person is: why, only to staff (who see everyone
    and may override a conflict); anyone else learns no more than PERSON_REFUSED."""
    return GrantRefused(reason if is_staff(granted_by) else PERSON_REFUSED, code="person")


def memberships_in_conflict_with(clients: QuerySet[Client]) -> QuerySet[Membership]:
    """Memberships, current or ended within the conflict window, in projects of the competitors
    of `clients`: their holders may not join those clients' projects."""
    window_start = timezone.now() - timedelta(days=settings.CONFLICT_WINDOW_DAYS)
    return Membership.objects.filter(
        project__client__in=Client.objects.filter(competitors__in=clients)
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=window_start))


def conflicting_memberships(*, user: User, project: Project) -> list[Membership]:
    """`user`'s memberships, current or ended within the window, in competitors' projects."""
    clients = Client.objects.filter(pk=project.client_id)
    return list(memberships_in_conflict_with(clients).filter(user=user).select_related("project"))


def _check_grant(*, project: Project, user: User, role: str, granted_by: User) -> None:
    if role not in ROLE_PERMS:
        raise GrantRefused({"role": f"Unknown role {role!r}."})
    if not may_manage_members(granted_by, project):
        raise GrantRefused("Only the project's managers and staff may change its members.")
    own = role_rank(granted_by, project)
    if ROLE_RANK[role] > own:
        raise GrantRefused({"role": "You cannot grant a role above your own."})
    if user != granted_by and role_rank(user, project) > own:
        raise _person_refused(granted_by, "You cannot change the role of someone ranked above you.")


@transaction.atomic
def membership_grant(
    *,
    project: Project,
    user: User,
    role: str,
    granted_by: User,
    override_reason: str = "",
    request: HttpRequest | None = None,
) -> Membership:
    """Make `user` a member of `project` with `role`, replacing any role they had there.

    Refused when the granter may not grant it, or when `user` is (or within the window was) a
    member of a competitor's project; staff may override a conflict with a recorded reason.
    """
    _check_grant(project=project, user=user, role=role, granted_by=granted_by)
    conflicts = conflicting_memberships(user=user, project=project)
    override_reason = override_reason.strip()
    if conflicts and not (is_staff(granted_by) and override_reason):
        raise _person_refused(
            granted_by,
            f"{user.get_username()} cannot join this project: they are, or in the last "
            f"{settings.CONFLICT_WINDOW_DAYS} days were, a member of a competing client's project. "
            "Staff may override this with a recorded reason.",
        )
    return _grant(
        project=project,
        user=user,
        role=role,
        granted_by=granted_by,
        override_reason=override_reason if conflicts else "",
        conflicting=[c.project_id for c in conflicts],
        request=request,
    )


def _grant(
    *,
    project: Project,
    user: User,
    role: str,
    granted_by: User,
    override_reason: str = "",
    conflicting: list[int] | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """Record the membership and its object permissions; the caller has checked the rules."""
    current = (
        Membership.objects.select_for_update()
        .filter(project=project, user=user, ended_at__isnull=True)
        .first()
    )
    if current is not None:
        if current.role == role:
            return current
        _end(current, ended_by=granted_by)
    membership = Membership(
        project=project, user=user, role=role, created_by=granted_by, conflict_override=override_reason
    )
    membership.full_clean(validate_unique=False, validate_constraints=False)
    membership.save()
    for perm in ROLE_PERMS[role]:
        assign_perm(f"projects.{perm}", user, project)
    audit_record(
        action=Action.ROLE_GRANTED,
        actor=granted_by,
        project=project,
        request=request,
        target=f"user {user.get_username()}",
        detail={"role": role, "previous_role": current.role if current else None},
    )
    if override_reason:
        audit_record(
            action=Action.CONFLICT_OVERRIDDEN,
            actor=granted_by,
            project=project,
            request=request,
            target=f"user {user.get_username()}",
            detail={"reason": override_reason, "conflicting_projects": conflicting or []},
        )
    return membership


def clients_managed_by(user: User) -> QuerySet[Client]:
    """Clients a user may open new projects for: all for staff, else those of projects they manage."""
    if is_staff(user):
        return Client.objects.all()
    return Client.objects.filter(projects__in=projects_for(user, Perm.MANAGE)).distinct()


def project_key(name: str, base: str) -> str:
    """A new value for the project key `name` ("slug" or "code"): `base` as a slug with a random
    suffix, not yet used. The suffix is always there, so the key says nothing of other projects."""
    stem = slugify(base)[:60].strip("-") or "project"
    while True:
        key = f"{stem}-{secrets.token_hex(3)}"
        if not Project.objects.filter(**{name: key}).exists():
            return key


@transaction.atomic
def project_create(*, project: Project, created_by: User, request: HttpRequest | None = None) -> Project:
    """Open `project` (unsaved) for its client; a manager who opens it becomes its manager.

    A blank slug or code is made from the name or the codename (see `project_key`).
    """
    if not clients_managed_by(created_by).filter(pk=project.client_id).exists():
        raise GrantRefused({"client": "You can open projects only for clients whose projects you manage."})
    project.slug = project.slug or project_key("slug", project.name)
    project.code = project.code or project_key("code", project.codename)
    project.full_clean()
    project.save()
    if not is_staff(created_by):
        _grant(
            project=project,
            user=created_by,
            role=Membership.Role.MANAGER,
            granted_by=created_by,
            request=request,
        )
    return project


def _end(membership: Membership, *, ended_by: User) -> None:
    for perm in ROLE_PERMS[membership.role]:
        remove_perm(f"projects.{perm}", membership.user, membership.project)
    membership.ended_at = timezone.now()
    membership.ended_by = ended_by
    membership.save(update_fields=["ended_at", "ended_by"])


@transaction.atomic
def membership_revoke(
    *, membership: Membership, revoked_by: User, request: HttpRequest | None = None
) -> None:
    """End a membership. The row stays, so the conflict-of-interest window still sees it."""
    if membership.ended_at is not None:
        return
    project = membership.project
    if not may_manage_members(revoked_by, project):
        raise GrantRefused("Only the project's managers and staff may change its members.")
    if membership.user != revoked_by and ROLE_RANK[membership.role] > role_rank(revoked_by, project):
        raise GrantRefused("You cannot remove someone ranked above you.")
    _end(membership, ended_by=revoked_by)
    audit_record(
        action=Action.ROLE_REVOKED,
        actor=revoked_by,
        project=project,
        request=request,
        target=f"user {membership.user.get_username()}",
        detail={"role": membership.role},
    )


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


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)


class ImportRejected(Exception):
    def __init__(self, errors: list[LineError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


def _stored_hashes(project: Project) -> dict[str, str]:
    return dict(Item.objects.filter(project=project).values_list("external_id", "content_hash"))


def items_plan(
    *, project: Project, records: list[ItemRecord], update: bool, stored: dict[str, str] | None = None
) -> ImportReport:
    """What importing `records` would do, and every conflict with stored items. Writes nothing."""
    report = ImportReport()
    if stored is None:
        stored = _stored_hashes(project)
    # Items that already carry judgments keep their content: changing it would silently
    # change what those judgments mean.
    labelled = set()
    if update:
        changed_ids = [
            r.external_id for r in records if stored.get(r.external_id, r.content_hash) != r.content_hash
        ]
        labelled = _labelled(project, changed_ids)
    for record in records:
        old_hash = stored.get(record.external_id)
        if old_hash is None:
            report.created += 1
        elif old_hash == record.content_hash:
            report.unchanged += 1
        elif not update:
            report.errors.append(
                LineError(
                    record.line,
                    f"item {record.external_id!r} already exists with different content "
                    "(use --update to replace it)",
                )
            )
        elif record.external_id in labelled:
            report.errors.append(_labelled_error(record))
        else:
            report.updated += 1
    return report


# An item's content: what its judgments were made on, and what its content hash covers (with
# its responses, their texts and models). See `labelled_items`.
ITEM_CONTENT_FIELDS = ("prompt", "is_chat", "domain", "metadata", "is_gold", "gold_answer")


def labelled_items(items: QuerySet[Item]) -> QuerySet[Item]:
    """Those of `items` that already carry judgments. Their content never changes again (the
    import refuses it, the admin shows it read-only): it would silently change what the
    judgments mean."""
    return items.filter(annotations__isnull=False).distinct()


def _labelled(project: Project, external_ids: list[str]) -> set[str]:
    """Which of these items already carry judgments (their content must not change)."""
    items = Item.objects.filter(project=project, external_id__in=external_ids)
    return set(labelled_items(items).values_list("external_id", flat=True))


def _labelled_error(record: ItemRecord) -> LineError:
    return LineError(
        record.line, f"item {record.external_id!r} already has annotations; its content cannot change"
    )


def _build_responses(item: Item, record: ItemRecord) -> list[Response]:
    return [
        Response(item=item, position=position, content=content, model=model)
        for position, (content, model) in enumerate(record.responses)
    ]


@transaction.atomic
def items_import(
    *,
    project: Project,
    records: list[ItemRecord],
    update: bool = False,
    batch_size: int = 2000,
    on_stored: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store `records` in `project`, all or nothing. Raises ImportRejected on any conflict.

    `on_stored(n)` is told after each batch of n new items (the command's progress line).
    """
    # Serialise imports into one project so that two uploads cannot both create the same id.
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    stored = _stored_hashes(project)
    report = items_plan(project=project, records=records, update=update, stored=stored)
    if report.errors:
        raise ImportRejected(report.errors)
    new_records = [r for r in records if r.external_id not in stored]
    changed = [r for r in records if stored.get(r.external_id, r.content_hash) != r.content_hash]

    if connection.vendor == "postgresql":
        _copy_new_items(project, new_records, batch_size=batch_size, on_stored=on_stored)
    else:
        for start in range(0, len(new_records), batch_size):
            chunk = new_records[start : start + batch_size]
            _insert_new_items(project, chunk)
            if on_stored is not None:
                on_stored(len(chunk))
    _replace_changed(project, changed)
    return report


def _replace_changed(project: Project, changed: list[ItemRecord]) -> None:
    """Give stored items the new content of `changed` (the caller checked they may change)."""
    if not changed:
        return
    by_id = {
        item.external_id: item
        for item in Item.objects.filter(project=project, external_id__in=[r.external_id for r in changed])
    }
    for record in changed:
        item = by_id[record.external_id]
        item.prompt, item.is_chat = record.prompt, record.is_chat
        item.domain, item.metadata = record.domain, record.metadata
        item.content_hash, item.priority = record.content_hash, record.priority
        item.is_gold, item.gold_answer = bool(record.gold), _gold_answer(record)
        item.save()
        item.responses.all().delete()
        Response.objects.bulk_create(_build_responses(item, record))


def _insert_new_items(project: Project, records: list[ItemRecord]) -> None:
    items = Item.objects.bulk_create([_build_item(project, record) for record in records])
    Response.objects.bulk_create(
        [resp for item, record in zip(items, records, strict=True) for resp in _build_responses(item, record)]
    )


ITEM_COLUMNS = (
    ("id", "int8"),
    ("project_id", "int8"),
    ("external_id", "varchar"),
    ("prompt", "jsonb"),
    ("is_chat", "bool"),
    ("domain", "varchar"),
    ("metadata", "jsonb"),
    ("content_hash", "varchar"),
    ("created_at", "timestamptz"),
    ("is_gold", "bool"),
    ("priority", "int4"),
    ("gold_answer", "jsonb"),
)
RESPONSE_COLUMNS = (("item_id", "int8"), ("position", "int2"), ("content", "text"), ("model", "varchar"))


def _copy_statement(table: str, columns: tuple[tuple[str, str], ...]) -> str:
    return f"COPY {table} ({', '.join(name for name, _ in columns)}) FROM STDIN (FORMAT BINARY)"


def _reserve_item_ids(cursor: Any, count: int) -> list[int]:
    """`count` new item ids from the items' sequence, in one query."""
    # The sequence's name once: pg_get_serial_sequence() per row took ten times as long.
    cursor.execute("SELECT pg_get_serial_sequence('projects_item', 'id')")
    (sequence,) = cursor.fetchone()
    cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
    return [row[0] for row in cursor.fetchall()]


def _copy_items(cursor: Any, project: Project, items: list[tuple[int, ItemRecord]]) -> None:
    """The item rows of `items` (id, record) in one binary COPY."""
    now = timezone.now()
    # The JSON columns in the canonical form the content hash is made of.
    set_json_dumps(canonical_json, context=cursor)
    with cursor.copy(_copy_statement("projects_item", ITEM_COLUMNS)) as copy:
        copy.set_types([kind for _, kind in ITEM_COLUMNS])
        for item_id, record in items:
            copy.write_row(
                (
                    item_id,
                    project.pk,
                    record.external_id,
                    record.prompt,
                    record.is_chat,
                    record.domain,
                    record.metadata,
                    record.content_hash,
                    now,
                    bool(record.gold),
                    record.priority,
                    _gold_answer(record),
                )
            )


def _copy_new_items(
    project: Project,
    records: list[ItemRecord],
    *,
    batch_size: int,
    on_stored: Callable[[int], None] | None = None,
) -> None:
    """The same rows through PostgreSQL's COPY: an INSERT would quote every text client-side,
    which dominates an import of long responses. Ids are reserved from the sequence first, so
    the responses can name their items. One COPY per table, in the binary format (nothing to
    escape or parse), so the server stores rows while the client is still sending them."""
    if not records:
        return
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        ids = _reserve_item_ids(cursor, len(records))
        _copy_items(cursor, project, list(zip(ids, records, strict=True)))
        with cursor.copy(_copy_statement("projects_response", RESPONSE_COLUMNS)) as copy:
            copy.set_types([kind for _, kind in RESPONSE_COLUMNS])
            for done, (item_id, record) in enumerate(zip(ids, records, strict=True), start=1):
                for position, (content, model) in enumerate(record.responses):
                    copy.write_row((item_id, position, content, model))
                if on_stored is not None and (done % batch_size == 0 or done == len(records)):
                    on_stored(batch_size if done % batch_size == 0 else done % batch_size)


class _StreamedImport:
    """The bookkeeping of one streamed import: what each entry of the file is, and its errors."""

    def __init__(self, stored: dict[str, str], update: bool) -> None:
        self.stored, self.update = stored, update
        self.report = ImportReport()
        self.file_errors: list[LineError] = []  # the file's own: bad lines, repeated ids
        self.changed: list[ItemRecord] = []

    def is_new(self, entry: ItemRecord | LineError) -> bool:
        """Count `entry`; whether it is a new item to store (never once an error was found)."""
        if isinstance(entry, LineError):
            self.file_errors.append(entry)
            return False
        old_hash = self.stored.get(entry.external_id)
        if old_hash is None:
            self.report.created += 1
            return not (self.file_errors or self.report.errors)
        if old_hash == entry.content_hash:
            self.report.unchanged += 1
        elif not self.update:
            self.report.errors.append(
                LineError(
                    entry.line,
                    f"item {entry.external_id!r} already exists with different content "
                    "(use --update to replace it)",
                )
            )
        else:
            self.report.updated += 1
            self.changed.append(entry)
        return False

    def refuse_if_wrong(self) -> None:
        # As when the whole file is read first: its own errors if it has any, else the conflicts.
        if self.file_errors:
            raise ImportRejected(self.file_errors)
        if self.report.errors:
            raise ImportRejected(self.report.errors)


@transaction.atomic
def items_import_stream(
    *,
    project: Project,
    stream: ItemStream,
    update: bool = False,
    batch_size: int = 2000,
    on_stored: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read and store a file's items at once, all or nothing; raises ImportRejected as
    `items_import` does, with every error of the file (or, for a file without any, every
    conflict with stored items).

    On PostgreSQL the responses go to the server while the file is still being read and
    checked, so that the server stores them on the other core meanwhile; the items follow in a
    second COPY (the foreign key from responses to items is checked at commit, as Django
    declares it DEFERRABLE INITIALLY DEFERRED). Once an error is found no more rows are sent,
    but the rest of the file is still read for its errors; then the COPY is abandoned and the
    transaction rolled back, so a file with any error stores nothing.
    """
    if connection.vendor != "postgresql":
        records: list[ItemRecord] = []
        errors: list[LineError] = []
        for entry in stream.entries:
            (errors if isinstance(entry, LineError) else records).append(entry)
        if errors:
            raise ImportRejected(errors)
        return items_import(
            project=project, records=records, update=update, batch_size=batch_size, on_stored=on_stored
        )
    # Serialise imports into one project so that two uploads cannot both create the same id.
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    state = _StreamedImport(_stored_hashes(project), update)
    entries = iter(stream.entries)
    # Up to the first new item nothing needs sending (a re-import of stored items sends none).
    first, read = None, 0
    for entry in entries:
        read += 1
        if state.is_new(entry):
            first = entry
            break
    new: list[tuple[int, ItemRecord]] = []
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        if first is not None:
            # Ids for every line that may still hold a new item: those of lines that turn out
            # stored or wrong are skipped, as a rolled-back import's always were.
            ids = iter(_reserve_item_ids(cursor, stream.most - read + 1))
            with cursor.copy(_copy_statement("projects_response", RESPONSE_COLUMNS)) as copy:
                copy.set_types([kind for _, kind in RESPONSE_COLUMNS])
                for record in _new_records(first, entries, state):
                    item_id = next(ids)
                    new.append((item_id, record))
                    for position, (content, model) in enumerate(record.responses):
                        copy.write_row((item_id, position, content, model))
                    if on_stored is not None and len(new) % batch_size == 0:
                        on_stored(batch_size)
                # Raised inside the COPY: PostgreSQL drops what it was sent.
                state.refuse_if_wrong()
        state.refuse_if_wrong()
        if state.changed:
            # Items that already carry judgments keep their content (as in `items_plan`).
            labelled = _labelled(project, [r.external_id for r in state.changed])
            if refused := [_labelled_error(r) for r in state.changed if r.external_id in labelled]:
                raise ImportRejected(refused)
        if new:
            _copy_items(cursor, project, new)
            if on_stored is not None and len(new) % batch_size:
                on_stored(len(new) % batch_size)
    _replace_changed(project, state.changed)
    return state.report


def _new_records(
    first: ItemRecord, entries: Iterator[ItemRecord | LineError], state: _StreamedImport
) -> Iterator[ItemRecord]:
    yield first
    for entry in entries:
        if state.is_new(entry):
            yield entry


def _build_item(project: Project, record: ItemRecord) -> Item:
    return Item(
        project=project,
        external_id=record.external_id,
        prompt=record.prompt,
        is_chat=record.is_chat,
        domain=record.domain,
        metadata=record.metadata,
        content_hash=record.content_hash,
        priority=record.priority,
        is_gold=bool(record.gold),
        gold_answer=_gold_answer(record),
    )


def _gold_answer(record: ItemRecord) -> dict[str, str] | None:
    return {"preference": record.gold} if record.gold else None


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


@transaction.atomic
def project_set_status(
    *, projects: QuerySet[Project], status: str, by: User, request: HttpRequest | None = None
) -> int:
    """Pause, resume or archive projects `by` manages; returns how many changed."""
    if status not in Project.Status.values:
        raise ValueError(f"unknown project status {status!r}")
    changed = 0
    for project in projects.select_for_update(no_key=True):
        if not may_manage_members(by, project):
            raise GrantRefused(f"You do not manage {project}.")
        if project.status == status:
            continue
        previous, project.status = project.status, status
        project.save(update_fields=["status"])
        audit_record(
            action=Action.ADMIN_CHANGED,
            actor=by,
            project=project,
            request=request,
            target=f"project {project.slug}",
            detail={"status": status, "previous_status": previous},
        )
        changed += 1
    return changed
