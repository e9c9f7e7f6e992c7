"""Reading item files (JSONL or CSV) into validated, canonical item records.

Parsing never touches the database: it returns the items and every problem found, each tied to
its line, so that the import service can refuse a file with any error before storing anything.
The same reader serves the command line, the admin upload and the API.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from labelhub.fastjson import TooDeep, canonical_json, checked_loads, has_float
from projects.models import ProjectKind
from projects.vocabulary import Preference

CHAT_ROLES = ("system", "user", "assistant")
JSONL_FIELDS = frozenset(
    {"id", "prompt", "responses", "domain", "metadata", "priority", "gold", "qualification"}
)
# A gold item's expected answer, in the item's own terms ("a" is its first response).
GOLD_ANSWERS = tuple(Preference.values)
RESPONSE_FIELDS = frozenset({"content", "model"})
MESSAGE_FIELDS = frozenset({"role", "content"})
CSV_LETTERS = "abcdefgh"
CSV_FIELDS = (
    "id",
    "prompt",
    *(f"{kind}_{letter}" for letter in CSV_LETTERS for kind in ("response", "model")),
    "domain",
    "priority",
    "gold",
    "qualification",
)
CSV_REQUIRED = ("id", "prompt", "response_a")
MAX_ID_LENGTH = 200
MAX_DOMAIN_LENGTH = 80
MAX_RESPONSES = 16
MAX_PRIORITY = 1_000_000


# PostgreSQL stores no NUL character, in text or in JSON: no string may hold one.
NO_NUL = r"^[^\x00]*$"


def _text_schema(*, blank: bool = False, **schema: Any) -> dict[str, Any]:
    # Without NUL and, unless `blank`, with something besides whitespace (the checks' strip()).
    return {"type": "string", "pattern": NO_NUL if blank else r"^[^\x00]*[^\s\x00][^\x00]*$", **schema}


# One JSONL line (or element of a JSON list) as a JSON Schema, for the API's OpenAPI schema: what
# the checks below accept, but for what a schema cannot say (in ITEM_RULES).
ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "prompt", "responses"],
    "properties": {
        "id": {"oneOf": [_text_schema(maxLength=MAX_ID_LENGTH), {"type": "integer"}]},
        "prompt": {
            "oneOf": [
                _text_schema(),
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": sorted(MESSAGE_FIELDS),
                        "properties": {
                            "role": {"type": "string", "enum": list(CHAT_ROLES)},
                            "content": _text_schema(),
                        },
                    },
                },
            ]
        },
        "responses": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_RESPONSES,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["content"],
                "properties": {"content": _text_schema(), "model": _text_schema(blank=True, nullable=True)},
            },
        },
        "domain": _text_schema(blank=True, nullable=True, maxLength=MAX_DOMAIN_LENGTH),
        "metadata": {"type": "object", "nullable": True},
        "priority": {"type": "integer", "minimum": -MAX_PRIORITY, "maximum": MAX_PRIORITY},
        "gold": {"type": "string", "nullable": True, "enum": [*GOLD_ANSWERS, "", None]},
        "qualification": {"type": "boolean"},
    },
}
ITEM_RULES = (
    "Ids are unique in a file. An item's responses are different texts: exactly two in a comparison "
    "project, 1 to 16 in a rubric project (whose items have no gold answer). A chat prompt ends with "
    "a user message. No string in metadata, nor any of its keys, holds a NUL character."
)


@dataclass(frozen=True)
class ResponseRule:
    """How many responses an item of a kind of project needs."""

    minimum: int
    maximum: int
    project_kind: str  # the kind in the words of an error message
    compares: bool  # whether its items compare responses, and so may have a gold answer

    def check(self, count: int) -> None:
        if self.minimum == self.maximum and count != self.minimum:
            raise _Invalid(
                f"'responses' must hold exactly {self.minimum} responses for a {self.project_kind} "
                f"project, got {count}"
            )
        if not self.minimum <= count <= self.maximum:
            raise _Invalid(
                f"'responses' must hold {self.minimum} to {self.maximum} responses for a "
                f"{self.project_kind} project, got {count}"
            )


# By project kind; a comparison needs exactly two responses, a rubric rates one or more.
RESPONSE_RULES = {
    ProjectKind.PAIRWISE: ResponseRule(2, 2, "pairwise", compares=True),
    ProjectKind.BOTH: ResponseRule(2, 2, "rate-then-choose", compares=True),
    ProjectKind.RUBRIC: ResponseRule(1, MAX_RESPONSES, "rubric", compares=False),
}


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}"


@dataclass
class ItemRecord:
    line: int
    external_id: str
    prompt: str | list[dict[str, str]]
    responses: list[tuple[str, str]]  # (content, model)
    domain: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # How soon to serve the item (higher first). Not content: it is left out of the content hash.
    priority: int = 0
    gold: str = ""  # the expected answer of a gold check (GOLD_ANSWERS), "" for ordinary items
    qualification: bool = False  # a gold item of the project's qualification test

    @property
    def is_chat(self) -> bool:
        return isinstance(self.prompt, list)

    @cached_property
    def content_hash(self) -> str:
        # Stored hashes were made with json.dumps; canonical_json gives the same bytes. The
        # checks leave strings only outside `metadata`, so only it can need json's slower path.
        content = [self.prompt, self.responses, self.domain, self.metadata]
        if self.gold:  # only then: the hashes of ordinary items stay those stored before
            content.append(
                {"gold": self.gold, "qualification": True} if self.qualification else {"gold": self.gold}
            )
        if self.metadata and has_float(self.metadata):
            return hashlib.sha256(canonical_json(content)).hexdigest()
        return hashlib.sha256(canonical_json(content, plain=True)).hexdigest()


@dataclass
class ParseResult:
    items: list[ItemRecord]
    errors: list[LineError]


class _Invalid(ValueError):
    pass


def _text(value: Any, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{what} must be a string, got {_type_name(value)}")
    if not allow_empty and not value.strip():
        raise _Invalid(f"{what} must not be empty")
    if "\x00" in value:
        raise _Invalid(f"{what} must not hold a NUL character (\\u0000)")
    return value


def _holds_nul(value: Any) -> bool:
    """Whether a NUL character occurs in any string or key of `value` (PostgreSQL stores none)."""
    stack = [value]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is str:
            if "\x00" in value:
                return True
        elif kind is dict:
            stack.extend(value)
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
    return False


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "null", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def prompt_problem(value: Any) -> str | None:
    """What is wrong with `value` as an item's prompt (the import's rule), or None."""
    try:
        _prompt(value)
    except _Invalid as invalid:
        return str(invalid)
    return None


def _prompt(value: Any) -> str | list[dict[str, str]]:
    if isinstance(value, str):
        return _text(value, "'prompt'")
    if not isinstance(value, list):
        raise _Invalid(f"'prompt' must be a string or a list of chat messages, got {_type_name(value)}")
    if not value:
        raise _Invalid("'prompt' must not be an empty list")
    messages = []
    for index, message in enumerate(value):
        where = f"'prompt[{index}]'"
        if not isinstance(message, dict):
            raise _Invalid(f"{where} must be an object with 'role' and 'content'")
        extra = message.keys() - MESSAGE_FIELDS
        if extra:
            raise _Invalid(f"{where} has unknown field(s): {', '.join(sorted(extra))}")
        role = message.get("role")
        if role not in CHAT_ROLES:
            raise _Invalid(f"{where}.role must be one of {', '.join(CHAT_ROLES)}, got {role!r}")
        messages.append({"role": role, "content": _text(message.get("content"), f"{where}.content")})
    if messages[-1]["role"] != "user":
        raise _Invalid("'prompt' must end with a 'user' message")
    return messages


def _responses(value: Any, rule: ResponseRule) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise _Invalid(f"'responses' must be a list, got {_type_name(value)}")
    rule.check(len(value))
    responses = []
    for index, response in enumerate(value):
        # The usual case, checked without building the messages it would need.
        if type(response) is dict and response.keys() <= RESPONSE_FIELDS:
            content, model = response.get("content"), response.get("model", "")
            if (
                type(content) is str
                and content.strip()
                and "\x00" not in content
                and (model is None or (type(model) is str and "\x00" not in model))
            ):
                responses.append((content, model or ""))
                continue
        where = f"'responses[{index}]'"
        if not isinstance(response, dict):
            raise _Invalid(f"{where} must be an object with 'content' (and optional 'model')")
        extra = response.keys() - RESPONSE_FIELDS
        if extra:
            raise _Invalid(f"{where} has unknown field(s): {', '.join(sorted(extra))}")
        content = _text(response.get("content"), f"{where}.content")
        model = response.get("model", "")
        model = "" if model is None else _text(model, f"{where}.model", allow_empty=True)
        responses.append((content, model))
    if len({content for content, _model in responses}) < len(responses):
        first_of: dict[str, int] = {}
        for index, (content, _model) in enumerate(responses):
            if content in first_of:
                raise _Invalid(
                    f"'responses[{index}]' is identical to 'responses[{first_of[content]}]'; "
                    "each response must be a different text"
                )
            first_of[content] = index
    return responses


def _identity(raw_id: Any) -> str:
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if len(_text(raw_id, "'id'")) > MAX_ID_LENGTH:
        raise _Invalid(f"'id' is longer than {MAX_ID_LENGTH} characters")
    return raw_id.strip()


def _domain(value: Any) -> str:
    if value is None:
        return ""
    sent = _text(value, "'domain'", allow_empty=True)
    domain = sent.strip().lower()
    # Measured as sent and as stored (lowercasing can lengthen it: "İ" becomes two characters).
    if max(len(sent), len(domain)) > MAX_DOMAIN_LENGTH:
        raise _Invalid(f"'domain' is longer than {MAX_DOMAIN_LENGTH} characters")
    return domain


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"'priority' must be a whole number, got {_type_name(value)}")
    if abs(value) > MAX_PRIORITY:
        raise _Invalid(f"'priority' must be between -{MAX_PRIORITY:,} and {MAX_PRIORITY:,}")
    return value


def _gold(value: Any, rule: ResponseRule) -> str:
    if value is None or value == "":
        return ""
    if not rule.compares:
        raise _Invalid("'gold' answers a comparison; a rubric project's items have none")
    if value not in GOLD_ANSWERS:
        raise _Invalid(
            f"'gold' must be one of {', '.join(GOLD_ANSWERS)} (the expected answer), got {value!r}"
        )
    return value


def _qualification(value: Any, gold: str) -> bool:
    if value is None or value is False:
        return False
    if value is not True:
        raise _Invalid(f"'qualification' must be true or false, got {_type_name(value)}")
    if not gold:
        raise _Invalid("a 'qualification' item is a gold item: give its expected answer in 'gold'")
    return True


def _record_from_object(line: int, obj: Any, rule: ResponseRule) -> ItemRecord:
    if not isinstance(obj, dict):
        raise _Invalid(f"each line must be a JSON object, got {_type_name(obj)}")
    unknown = obj.keys() - JSONL_FIELDS
    if unknown:
        raise _Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    for required in ("id", "prompt", "responses"):
        if required not in obj:
            raise _Invalid(f"missing field '{required}'")
    metadata = obj.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise _Invalid(f"'metadata' must be an object, got {_type_name(metadata)}")
    if metadata and _holds_nul(metadata):
        raise _Invalid("'metadata' must not hold a NUL character (\\u0000), in a key or a string")
    gold = _gold(obj.get("gold"), rule)
    return ItemRecord(
        line=line,
        external_id=_identity(obj["id"]),
        prompt=_prompt(obj["prompt"]),
        responses=_responses(obj["responses"], rule),
        domain=_domain(obj.get("domain")),
        metadata=metadata,
        priority=_priority(obj.get("priority", 0)),
        gold=gold,
        qualification=_qualification(obj.get("qualification"), gold),
    )


def _jsonl_record(number: int, raw: str, rule: ResponseRule) -> ItemRecord | LineError:
    """One line, read and checked exactly as `json.loads` and the checks above would.

    orjson reads a line several times faster, but it refuses some of what json accepts (NaN,
    lone surrogates, numbers past a double), reads integers past 64 bits as floats, and words its
    errors differently. Floats can only pass the checks in `metadata`, so a line that orjson
    refuses, that fails a check, or whose metadata holds a float is read again by json.
    """
    try:
        record = _record_from_object(number, orjson.loads(raw), rule)
    except (orjson.JSONDecodeError, _Invalid):
        pass
    else:
        if not (record.metadata and has_float(record.metadata)):
            return record
    try:
        obj = checked_loads(raw)
    except json.JSONDecodeError as exc:
        return LineError(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
    except TooDeep as exc:
        return LineError(number, f"invalid JSON: {exc}")
    try:
        return _record_from_object(number, obj, rule)
    except _Invalid as exc:
        return LineError(number, str(exc))


def _jsonl_records(lines: Iterable[str], rule: ResponseRule) -> Iterator[tuple[int, ItemRecord | LineError]]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield number, _jsonl_record(number, raw, rule)


def _csv_records(text: str, rule: ResponseRule) -> Iterator[tuple[int, ItemRecord | LineError]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [name for name in CSV_REQUIRED if name not in header]
    unknown = [name for name in header if name not in CSV_FIELDS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s): {', '.join(unknown)}")
        yield (
            1,
            LineError(
                1,
                "; ".join(problems) + " (expected: id,prompt,response_a,response_b,…,"
                "model_a,model_b,…,domain,priority,gold,qualification)",
            ),
        )
        return
    letters = [letter for letter in CSV_LETTERS if f"response_{letter}" in header]
    for row in reader:
        number = reader.line_num
        if None in row:
            yield number, LineError(number, f"more values than the {len(header)} header columns")
            continue
        try:
            # Empty trailing response columns mean "no such response" (rubric items vary in count).
            present = [letter for letter in letters if row[f"response_{letter}"] or letter == "a"]
            responses = [
                {"content": row[f"response_{letter}"], "model": row.get(f"model_{letter}") or ""}
                for letter in present
            ]
            obj = {"id": row["id"], "prompt": row["prompt"], "responses": responses}
            if row.get("domain"):
                obj["domain"] = row["domain"]
            if row.get("gold", "").strip():
                obj["gold"] = row["gold"].strip()
            if row.get("priority", "").strip():
                obj["priority"] = _csv_whole_number(row["priority"], "'priority'")
            if row.get("qualification", "").strip():
                obj["qualification"] = _csv_yes_no(row["qualification"], "'qualification'")
            yield number, _record_from_object(number, obj, rule)
        except _Invalid as exc:
            message = str(exc)
            for index, letter in enumerate(CSV_LETTERS):
                message = message.replace(f"'responses[{index}]'.content", f"'response_{letter}'")
            yield number, LineError(number, message)


def _csv_whole_number(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _Invalid(f"{what} must be a whole number, got {text.strip()!r}") from None


CSV_YES, CSV_NO = ("true", "yes", "1"), ("false", "no", "0")


def _csv_yes_no(text: str, what: str) -> bool:
    value = text.strip().lower()
    if value not in CSV_YES + CSV_NO:
        raise _Invalid(f"{what} must be true or false, got {text.strip()!r}")
    return value in CSV_YES


def detect_format(filename: str) -> str:
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise ValueError(f"{filename}: cannot tell the format from the name; use .jsonl or .csv")


@dataclass
class ItemStream:
    """A file's items and errors, read one line at a time in the file's order.

    `entries` yields each item that passes every check and a LineError for each problem
    (duplicate ids included, and "the file holds no items" last if it yielded nothing else).
    `most` is an upper bound on the items it can yield, known before any is read: the importer
    reserves their ids before it starts sending rows.
    """

    entries: Iterator[ItemRecord | LineError]
    most: int


def read_items(data: bytes | str, *, fmt: str, kind: str = ProjectKind.PAIRWISE) -> ItemStream:
    """Read a whole file for a project of `kind` lazily: each line is checked as it is reached."""
    rule = RESPONSE_RULES[kind]
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            return ItemStream(iter([LineError(line, "the file is not valid UTF-8")]), 0)
    if fmt == "csv":
        # Each record takes at least one line, and the reader ends lines at \n, \r and \r\n.
        return ItemStream(_checked(_csv_records(data, rule)), data.count("\n") + data.count("\r") + 1)
    lines = data.splitlines()
    return ItemStream(_checked(_jsonl_records(lines, rule)), len(lines))


def _checked(records: Iterator[tuple[int, ItemRecord | LineError]]) -> Iterator[ItemRecord | LineError]:
    """The records with their ids checked for repeats, and the error for a file with no items."""
    first_line_of: dict[str, int] = {}
    empty = True
    for number, record in records:
        empty = False
        if isinstance(record, LineError):
            yield record
            continue
        first = first_line_of.get(record.external_id)
        if first is not None:
            yield LineError(number, f"duplicate id {record.external_id!r} (first on line {first})")
            continue
        first_line_of[record.external_id] = number
        yield record
    if empty:
        yield LineError(1, "the file holds no items")


def parse_items(data: bytes | str, *, fmt: str, kind: str = ProjectKind.PAIRWISE) -> ParseResult:
    """Parse a whole file for a project of `kind`. Every problem is reported, not only the first."""
    items: list[ItemRecord] = []
    errors: list[LineError] = []
    for entry in read_items(data, fmt=fmt, kind=kind).entries:
        (errors if isinstance(entry, LineError) else items).append(entry)
    return ParseResult(items, errors)
