"""Model instances from SQL, for the few statements that run on every labelling request.

Building a query through the ORM costs more CPU than PostgreSQL spends running these small
statements, and `QuerySet.raw()` reads one model per row. Here a statement selects the columns
of one or more models (`columns`), and `instances` turns each row back into those models,
through the same converters the ORM applies (so datetimes, JSON and UUIDs come back as the ORM
gives them, on PostgreSQL and SQLite alike).

Where a statement carries a rule (what an expert may be served), it is not written out: the
rule's queryset is compiled once per process and shape by `Compiled`, and run with new values.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from weakref import WeakKeyDictionary

from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Field, Model, QuerySet
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


# Stand-ins for the values a compiled statement is run with: in range for any integer column, and
# unlike any constant of a query, so that the compiled parameters tell them apart.
_STAND_IN_INT = 2_146_000_000
_STAND_IN_MOMENT = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
_MOMENT = DateTimeField()

Value = int | str | datetime


def _stand_in(value: Value, n: int) -> Value:
    if isinstance(value, datetime):
        return _STAND_IN_MOMENT + timedelta(microseconds=n)
    if isinstance(value, str):
        return f"\x00stand-in {n}"
    return _STAND_IN_INT + n


def _adapt(value: Any) -> Any:
    """`value` as the ORM passes it to the database (datetimes are the one type that differs)."""
    return _MOMENT.get_db_prep_value(value, connection) if isinstance(value, datetime) else value


@dataclass(frozen=True)
class _Statement:
    sql: str
    # Per parameter: (the value's name, its index in a list or None, a type to wrap it in or None),
    # or (None, the query's constant, None).
    slots: tuple[tuple[str | None, Any, type | None], ...]
    model: type[Model] | None  # when the statement selects one model's columns and nothing else


class Compiled:
    """A queryset compiled to SQL once per process and shape, then run with new values: for the
    statements that run on every labelling request, whose rule is written once, as a queryset,
    and whose compilation through the ORM costs more CPU than running them.

    `build(**values)` makes the queryset from the values it is run with (integers, strings,
    datetimes, or lists of them). On the first run of a shape (the database, and the length of
    each list) it is built from stand-ins instead, and compiled; every run then puts its values in
    the stand-ins' places, adapted as the ORM adapts them. A stand-in missing from the compiled
    parameters (a value the ORM wrote into the SQL text) is refused when compiling, so a
    statement never runs with a stand-in's value.
    """

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self._statements: dict[tuple, _Statement] = {}

    def sql(self, **values: Value | Sequence[Value]) -> tuple[str, list[Any]]:
        """The statement and its parameters for `values`."""
        statement = self._statement(values)
        params = []
        for name, index, wrap in statement.slots:
            if name is None:
                params.append(index)
                continue
            value = _adapt(values[name] if index is None else values[name][index])
            params.append(value if wrap is None else wrap(value))
        return statement.sql, params

    def first(self, **values: Value | Sequence[Value]) -> Model | None:
        """The first row for `values` as an instance of the queryset's model, or None."""
        model = self._statement(values).model
        if model is None:
            raise TypeError("This queryset selects more or less than its model's columns.")
        found = fetch(*self.sql(**values), model)
        return None if found is None else found[0]

    def value(self, **values: Value | Sequence[Value]) -> Any:
        """The first column of the first row for `values` (None without a row)."""
        with connection.cursor() as cursor:
            cursor.execute(*self.sql(**values))
            row = cursor.fetchone()
        return None if row is None else row[0]

    def rows(self, **values: Value | Sequence[Value]) -> list[tuple]:
        """Every row for `values`, as the database gives them (for plain columns: no converters)."""
        with connection.cursor() as cursor:
            cursor.execute(*self.sql(**values))
            return cursor.fetchall()

    def _statement(self, values: dict[str, Value | Sequence[Value]]) -> _Statement:
        shape = (connection.vendor, *((name, _length(values[name])) for name in sorted(values)))
        if shape not in self._statements:
            self._statements[shape] = self._compile(values)
        return self._statements[shape]

    def _compile(self, values: dict[str, Value | Sequence[Value]]) -> _Statement:
        stand_ins: dict[str, Value | list[Value]] = {}
        names: dict[Any, tuple[str, int | None]] = {}  # adapted stand-in: what it stands for
        for name in sorted(values):
            value = values[name]
            if _length(value) is None:
                stand_ins[name] = _stand_in(value, len(names))
                names[_adapt(stand_ins[name])] = (name, None)
            else:
                stand_ins[name] = [_stand_in(element, len(names) + i) for i, element in enumerate(value)]
                names.update({_adapt(stand_in): (name, i) for i, stand_in in enumerate(stand_ins[name])})
        types = {named: type(adapted) for adapted, named in names.items()}
        queryset = self.build(**stand_ins)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = []
        for param in params:
            named = names.get(param) if isinstance(param, Hashable) else None
            if named is None:
                slots.append((None, param, None))
            else:
                # A type the ORM gave the value is kept (psycopg's Int4 for an integer column…):
                # it fixes the parameter's type, as the ORM's own statement would.
                kept = type(param) if type(param) is not types[named] else None
                slots.append((*named, kept))
        missing = set(names.values()) - {(name, index) for name, index, _ in slots if name is not None}
        if missing:
            raise ValueError(f"The compiled statement does not take {sorted(missing)} as parameters.")
        selected = [getattr(column, "target", None) for column, _, _ in compiler.select]
        model = queryset.model if selected == list(queryset.model._meta.concrete_fields) else None
        return _Statement(sql, tuple(slots), model)


def _length(value: Value | Sequence[Value]) -> int | None:
    return None if isinstance(value, (str, int, datetime)) else len(value)
