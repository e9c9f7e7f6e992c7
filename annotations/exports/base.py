"""What every export format shares: rows as bytes, pseudonyms, streamed reads, prompt styles."""

from collections.abc import Iterator
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import QuerySet

from annotations.exports.options import PairOptions
from annotations.models import Annotation
from annotations.queries import left_out_of_exports
from labelhub.fastjson import dumps_line
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item, Project

CHUNK_SIZE = 2000
STREAM_CHUNK = 500
STRENGTH_NAMES = {strength.value: strength.name.lower() for strength in Annotation.Strength}  # 1: slightly
COMPARISON_VALUES = tuple(Annotation.Preference.values)  # a, b, tie, both_bad


def dumps(row: dict[str, Any], *, floats_checked: bool = False) -> bytes:
    return dumps_line(row, floats_checked=floats_checked)


def is_conversational(project: Project, **exported: object) -> bool:
    """One style per file: chat messages on every row as soon as any exported prompt is a chat.

    `exported` narrows the items to those the export writes rows for.
    """
    return Item.objects.filter(project=project, is_chat=True, **exported).exists()


class Pseudonyms(dict[int, str]):
    """The project's annotator pseudonyms, each computed once per export."""

    def __init__(self, project: Project) -> None:
        super().__init__()
        self.project_id = project.pk

    def __missing__(self, user_id: int) -> str:
        self[user_id] = pseudonym = annotator_pseudonym(project_id=self.project_id, user_id=user_id)
        return pseudonym


class ItemRow(NamedTuple):  # a tuple: built once per exported item, several times faster
    external_id: str
    prompt: Any
    is_chat: bool

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.prompt) if self.is_chat else [{"role": "user", "content": self.prompt}]


def on_postgresql() -> bool:
    """The streamed statements of the formats are PostgreSQL's; other databases (the embedded
    SQLite default) get the same rows, in the same order, from the ORM."""
    return connection.vendor == "postgresql"


def streamed(query: str, params: dict[str, Any]) -> Iterator[tuple]:
    """The rows of `query`, streamed as the server produces them, a chunk of rows at a time.

    One statement, planned as a whole (a server-side cursor is planned for its first rows, which
    made a walk over these joins several times slower), and the server computes the next rows
    while this process writes the last ones. Memory stays flat: one chunk is held at once.
    The connection is busy until the rows are all read, so the caller must not query meanwhile.
    """
    with connection.cursor() as wrapper:
        yield from wrapper.cursor.stream(query, params, size=STREAM_CHUNK)


def annotations_with_items(
    project: Project, preferences: list[str], options: PairOptions
) -> QuerySet[Annotation]:
    left_out = left_out_of_exports(project, include_paused=options.include_paused)
    return (
        left_out.apply(Annotation.objects.filter(project=project, preference__in=preferences))
        .select_related("item")
        .prefetch_related("item__responses")
        .order_by("item_id", "id")
    )


def criterion_keys(project: Project) -> dict[int, list[str]]:
    """Each rubric version's criterion keys, in rubric order: every line of a version has them all."""
    keys_of: dict[int, list[str]] = {}
    for version, key in project.criteria.order_by("version", "position", "id").values_list("version", "key"):
        keys_of.setdefault(version, []).append(key)
    return keys_of
