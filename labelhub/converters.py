"""Path converters shared by the apps' URLconfs (registered once, in `LabelhubConfig.ready`)."""

import re
from functools import cache

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string


@cache
def _largest_id(vendor: str) -> int | None:
    internal_type = import_string(settings.DEFAULT_AUTO_FIELD)().get_internal_type()
    return connection.ops.integer_field_range(internal_type)[1]


class PrimaryKeyConverter:
    """`<pk:name>`: a row's id, as digits within the range of the primary keys' column.

    The ORM answers "no such row" for an integer past that range, but the hand-written
    statements (`labelhub.rows`) hand it to the driver as it is, and SQLite's raises an
    `OverflowError` (a 500). No row has such an id, so the URL names nothing: refusing it here
    answers 404 before any view runs.
    """

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        number = int(value)  # past Python's 4,300 digits this raises ValueError too: no match
        largest = _largest_id(connection.vendor)
        if largest is not None and number > largest:
            raise ValueError(f"{value} is past the largest id")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


def as_pk(raw: str) -> int | None:
    """`raw` (e.g. a query parameter) as a row's id, or None when no row could have it: only ASCII
    digits within the primary keys' range (`"²".isdigit()` is true, yet no id)."""
    if not re.fullmatch(PrimaryKeyConverter.regex, raw or ""):
        return None
    try:
        return PrimaryKeyConverter().to_python(raw)
    except ValueError:
        return None
