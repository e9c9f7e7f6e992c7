"""The export formats, each declared once: the command, the export page, the API and the
bundle list them from here, in the order they were registered."""

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class ExportFormat:
    name: str  # the format's name in the command, the page, the API and the bundle's file name
    label: str  # what the export page calls it
    columns: dict[str, str]  # each column in row order and its type (see COLUMN_TYPES)
    lines: Lines  # the rows, as JSONL lines
    optional_columns: dict[str, str] = field(default_factory=dict)  # present only with some options
    rubric_only: bool = False  # only rubric projects have such rows (the bundle leaves it out elsewhere)
    bundled: Callable[[PairOptions], bool] = lambda options: True  # whether a bundle carries it

    def __post_init__(self) -> None:
        for column, kind in {**self.columns, **self.optional_columns}.items():
            if not set(kind.removesuffix("?").split("|")) <= COLUMN_TYPES.keys():
                raise ValueError(f"export {self.name}: column {column} has an unknown type {kind!r}")

    def column_types(self, column: str) -> tuple[tuple[type, ...], bool]:
        """The Python types a value of `column` may have once the row is read, and whether null may
        stand in."""
        kind = {**self.columns, **self.optional_columns}[column]
        return tuple(COLUMN_TYPES[part] for part in kind.removesuffix("?").split("|")), kind.endswith("?")

    def in_bundle(self, project: Project, options: PairOptions) -> bool:
        return (project.rates or not self.rubric_only) and self.bundled(options)


REGISTRY: dict[str, ExportFormat] = {}


def register(export_format: ExportFormat) -> ExportFormat:
    if export_format.name in REGISTRY:
        raise ValueError(f"export format {export_format.name!r} is registered twice")
    REGISTRY[export_format.name] = export_format
    return export_format


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
