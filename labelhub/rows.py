"""Model instances from hand-written SQL, for the few statements that run on every labelling
request.

Building a query through the ORM costs more CPU than PostgreSQL spends running these small
statements, and `QuerySet.raw()` reads one model per row. Here a statement selects the columns
of one or more models (`columns`), and `instances` turns each row back into those models,
through the same converters the ORM applies (so datetimes, JSON and UUIDs come back as the ORM
gives them, on PostgreSQL and SQLite alike).
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.expressions import Col


@cache
def _fields(model: type[Model]) -> tuple[tuple[Field, ...], tuple[str, ...]]:
    fields = tuple(model._meta.concrete_fields)
    return fields, tuple(field.attname for field in fields)


def columns(model: type[Model], alias: str) -> str:
    """`model`'s columns as a select list, qualified by `alias`, in the order `instances` reads."""
    return _columns(connection.vendor, model, alias)


@cache
def _columns(vendor: str, model: type[Model], alias: str) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in _fields(model)[0])


# Per connection (each thread has its own, and a backend's converters are bound to it), per model:
# the fields that need converting, with their converters.
_converters: WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], list]] = WeakKeyDictionary()


def _converters_of(model: type[Model]) -> list[tuple[int, list[Callable], Col]]:
    wrapper = connections[connection.alias]
    known = _converters.setdefault(wrapper, {})
    if model not in known:
        known[model] = []
        for index, field in enumerate(_fields(model)[0]):
            column = field.get_col(model._meta.db_table)
            functions = wrapper.ops.get_db_converters(column) + field.get_db_converters(wrapper)
            if functions:
                known[model].append((index, functions, column))
    return known[model]


def instances(row: Sequence[Any], *models: type[Model]) -> tuple[Model, ...]:
    """One instance of each of `models` from `row`, whose columns are theirs in turn."""
    built = []
    start = 0
    for model in models:
        fields, attnames = _fields(model)
        values = list(row[start : start + len(fields)])
        start += len(fields)
        for index, functions, column in _converters_of(model):
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        built.append(model.from_db(connection.alias, attnames, values))
    return tuple(built)


def fetch(sql: str, params: Sequence[Any], *models: type[Model]) -> tuple[Model, ...] | None:
    """The first row of `sql` as instances of `models` (see `instances`), or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else instances(row, *models)


def insert(instance: Model) -> None:
    """Store the new `instance` (its primary key given by the database) with one INSERT …
    RETURNING, as `save()` would, auto_now fields included, without compiling a query."""
    model = type(instance)
    fields = [field for field in _fields(model)[0] if field is not model._meta.pk]
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {quote(model._meta.db_table)} ({names})
                VALUES ({", ".join(["%s"] * len(fields))}) RETURNING {quote(model._meta.pk.column)}""",
            values,
        )
        (instance.pk,) = cursor.fetchone()
    instance._state.adding = False
    instance._state.db = connection.alias
