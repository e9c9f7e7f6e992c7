"""Importing items into a project, all or nothing: planned against the stored items first, then
stored, on PostgreSQL through binary COPY (the file streamed as it is read)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg.types.json import set_json_dumps

from labelhub.fastjson import canonical_json
from projects.importing import ItemRecord, ItemStream, LineError
from projects.models import Item, Project, Response
from projects.queries import labelled_items


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
        item.is_qualification = record.qualification
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
    ("is_qualification", "bool"),
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
                    record.qualification,
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
        is_qualification=record.qualification,
    )


def _gold_answer(record: ItemRecord) -> dict[str, str] | None:
    return {"preference": record.gold} if record.gold else None


@dataclass(frozen=True)
class QualificationChange:
    changed: int
    refused: list[str]  # why each item that was left as it was could not change


@transaction.atomic
def items_set_qualification(*, items: QuerySet[Item], qualification: bool) -> QualificationChange:
    """Put gold `items` into the qualification test (or take them out). Only gold items can test
    an expert; an item already answered keeps its use, as it keeps its content (answers given as
    a gold check would otherwise turn into qualification answers, or the reverse)."""
    refused: list[str] = []
    wanted = items.exclude(is_qualification=qualification)
    if qualification:
        for external_id in wanted.filter(is_gold=False).values_list("external_id", flat=True):
            refused.append(
                f"Item {external_id}: only a gold item (with its answer) can be a qualification item."
            )
        wanted = wanted.filter(is_gold=True)
    answered = labelled_items(wanted)
    for external_id in answered.values_list("external_id", flat=True):
        refused.append(f"Item {external_id}: already answered, so its use can no longer change.")
    changed = wanted.exclude(pk__in=answered.values("pk")).update(is_qualification=qualification)
    return QualificationChange(changed=changed, refused=refused)
