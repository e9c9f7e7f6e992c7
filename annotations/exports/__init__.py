"""Training-ready exports, streamed row by row from the database.

Each format is one module of this package that registers an `ExportFormat`: its name, its
columns and their types, and its rows. The command, the export page, the API and the bundle list
the formats from the registry, so adding a format is one module (imported below) and its test.
The pairs' per-item aggregates are listed the same way (`options.AGGREGATES`); an app above this
one adds its own with `register_aggregate` in its `ready()`.

Rows are produced from a chunked iterator (a server-side cursor on PostgreSQL), so memory stays
flat whatever the project's size, and in a fixed order, so that the same data always gives the
same bytes.

Another app may add columns to a format that takes them (`ColumnSource`, `add_columns`): the
quality app adds its per-annotation signals to `annotations`. Those are computed before the rows
stream and held per annotation, the one part of such an export that grows with the project.
"""

# The formats register themselves when imported: the order here is the order every list shows.
# isort: off
from annotations.exports import pairs, kto, judgments, ratings, ratings_mean, ties  # noqa: F401

# isort: on
from annotations.exports.options import (
    AGGREGATES,
    SPLIT_NAMES,
    SPLITS_PATTERN,
    STYLES,
    TIE_HANDLING,
    Aggregate,
    PairOptions,
    export_id_for,
    parse_splits,
    prompt_id,
    register_aggregate,
    split_of,
)
from annotations.exports.registry import (
    REGISTRY,
    ColumnSource,
    ExportFormat,
    add_columns,
    export_format,
    export_lines,
)

FORMATS = tuple(REGISTRY)

__all__ = [
    "AGGREGATES",
    "FORMATS",
    "REGISTRY",
    "SPLITS_PATTERN",
    "SPLIT_NAMES",
    "STYLES",
    "TIE_HANDLING",
    "Aggregate",
    "ColumnSource",
    "ExportFormat",
    "PairOptions",
    "add_columns",
    "export_format",
    "export_id_for",
    "export_lines",
    "parse_splits",
    "prompt_id",
    "register_aggregate",
    "split_of",
]
