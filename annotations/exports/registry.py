"""The export formats, each declared once: the command, the export page, the API and the
bundle list them from here, in the order they were registered."""

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from annotations.exports.options import PairOptions
from projects.models import Project

# A column's type, as the rows hold it (JSON): "string", "integer?" (or null), "string|list" (one
# or the other for the whole file: plain prompts or chat messages).
COLUMN_TYPES = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "list": list,
    "object": dict,
}

Lines = Callable[[Project, PairOptions, Counter], Iterator[bytes]]


def _check_types(name: str, columns: dict[str, str]) -> None:
    for column, kind in columns.items():
        if not set(kind.removesuffix("?").split("|")) <= COLUMN_TYPES.keys():
            raise ValueError(f"export {name}: column {column} has an unknown type {kind!r}")


@dataclass(frozen=True)
class ColumnSource:
    """Columns that another app adds to the rows of a format that takes them (`added_by_others`):
    figures a lower app cannot compute, since it may not import the app that does (the quality
    signals, say). That app adds them once, when it is ready (`add_columns`).

    `values(project)` gives each annotation's values ({annotation pk: one value per column, in
    `columns`' order}). It runs once per export, before the first row is read, so it may query:
    while the rows stream, the connection is theirs. A row it has nothing for (a skip, say) holds
    null in every column, so every column's type is nullable. Numbers are rounded to 4 decimals
    and under 10**15, like the exports' own shares: orjson writes those as json does (see
    `labelhub.fastjson`), so the rows need not be searched for floats.
    """

    name: str  # who adds the columns, for messages
    columns: dict[str, str]  # each column in row order and its type (see COLUMN_TYPES), nullable
    values: Callable[[Project], Mapping[int, tuple[Any, ...]]]

    def __post_init__(self) -> None:
        _check_types(self.name, self.columns)
        fixed = [column for column, kind in self.columns.items() if not kind.endswith("?")]
        if fixed:
            raise ValueError(
                f"columns from {self.name}: {', '.join(fixed)} must be nullable ('?'): a row the "
                "source has no values for holds null"
            )


@dataclass(frozen=True)
class ExportFormat:
    name: str  # the format's name in the command, the page, the API and the bundle's file name
    label: str  # what the export page calls it
    columns: dict[str, str]  # each column in row order and its type (see COLUMN_TYPES)
    lines: Lines  # the rows, as JSONL lines
    optional_columns: dict[str, str] = field(default_factory=dict)  # present only with some options
    rubric_only: bool = False  # only rubric projects have such rows (the bundle leaves it out elsewhere)
    bundled: Callable[[PairOptions], bool] = lambda options: True  # whether a bundle carries it
    # Whether other apps may add columns (`ColumnSource`): the rows are annotations, and `lines`
    # writes `added_values`' after the format's own columns.
    added_by_others: bool = False
    sources: list[ColumnSource] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_types(self.name, {**self.columns, **self.optional_columns})

    @property
    def added_columns(self) -> dict[str, str]:
        """The columns other apps added, in row order (after the format's own), and their types."""
        return {column: kind for source in self.sources for column, kind in source.columns.items()}

    def column_types(self, column: str) -> tuple[tuple[type, ...], bool]:
        """The Python types a value of `column` may have once the row is read, and whether null may
        stand in."""
        kind = {**self.columns, **self.optional_columns, **self.added_columns}[column]
        return tuple(COLUMN_TYPES[part] for part in kind.removesuffix("?").split("|")), kind.endswith("?")

    def add_columns(self, source: ColumnSource) -> None:
        """Add `source`'s columns to the rows (once: adding the same source again changes nothing)."""
        if source in self.sources:
            return
        if not self.added_by_others:
            raise ValueError(f"export {self.name} takes no columns from other apps ({source.name})")
        taken = {**self.columns, **self.optional_columns, **self.added_columns}.keys() & source.columns
        if taken:
            raise ValueError(f"export {self.name} already has the column(s) {', '.join(sorted(taken))}")
        self.sources.append(source)

    def added_values(self, project: Project) -> Callable[[int | None], dict[str, Any]]:
        """The added columns of `project`'s rows, computed now: a function from an annotation's pk
        (None for a row of no annotation) to its added columns and their values."""
        computed = [(list(source.columns), source.values(project)) for source in self.sources]
        if not computed:
            return lambda pk: {}

        def row(pk: int | None) -> dict[str, Any]:
            added: dict[str, Any] = {}
            for columns, values in computed:
                found = values.get(pk) if pk is not None else None
                added.update(dict.fromkeys(columns) if found is None else zip(columns, found, strict=True))
            return added

        return row

    def in_bundle(self, project: Project, options: PairOptions) -> bool:
        return (project.rates or not self.rubric_only) and self.bundled(options)


REGISTRY: dict[str, ExportFormat] = {}


def register(export_format: ExportFormat) -> ExportFormat:
    if export_format.name in REGISTRY:
        raise ValueError(f"export format {export_format.name!r} is registered twice")
    REGISTRY[export_format.name] = export_format
    return export_format


def add_columns(name: str, source: ColumnSource) -> None:
    """Add `source`'s columns to the rows of format `name` (see `ColumnSource`)."""
    export_format(name).add_columns(source)


def export_format(name: str) -> ExportFormat:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown export format {name!r}; choose one of: {', '.join(REGISTRY)}") from None


def export_lines(
    project: Project, fmt: str, options: PairOptions | None = None, tally: Counter | None = None
) -> Iterator[bytes]:
    """The export's rows, checked first: an export the options cannot give (an unknown format, a
    style that cannot hold the prompts) raises ValueError here, before any byte is sent.

    The rows are not read yet: the caller may use the database (e.g. to audit the download) before
    it iterates, but not while it iterates, since an export streams its rows on the connection.
    `tally`, when given, counts what was kept and what was dropped and why (for a manifest).
    """
    return export_format(fmt).lines(
        project, options or PairOptions(), tally if tally is not None else Counter()
    )
