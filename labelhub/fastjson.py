"""JSON through orjson, with exactly the bytes and values of Python's json module.

orjson is several times faster than json, and for strings, booleans, null and integers up to 64
bits it reads and writes the same as `json.loads` and `json.dumps(ensure_ascii=False,
separators=(",", ":"))`. It differs on floats (it writes 1e-05 as 0.00001 and refuses NaN),
reads integers past 64 bits as floats and refuses to write them, and refuses lone surrogates.
Stored content hashes and byte-identical exports depend on json's output, so these helpers use
orjson where it is known to agree and json everywhere else.
"""

import json
from typing import Any

import orjson

# How deep JSON sent to us may nest: orjson's own limit. json has none of its own (it fails with a
# RecursionError, a 500, somewhere past it), and nothing LabelHub reads nests beyond a few levels.
MAX_DEPTH = 1024


class TooDeep(ValueError):
    """JSON nested more than MAX_DEPTH levels deep."""

    def __init__(self) -> None:
        super().__init__(f"it is nested more than {MAX_DEPTH} levels deep")


def depth(value: Any) -> int:
    """How many lists and objects deep `value` nests (0 for a string, a number, true, false, null)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        value, level = stack.pop()
        kind = type(value)
        if kind is dict:
            values = value.values()
        elif kind is list or kind is tuple:
            values = value
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((inner, level + 1) for inner in values)
    return deepest


def checked_loads(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads(text, **kwargs)` for JSON sent from outside: TooDeep (a ValueError, as json's
    own errors are) when it nests past MAX_DEPTH."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep from None
    if depth(value) > MAX_DEPTH:
        raise TooDeep
    return value


def has_float(value: Any) -> bool:
    """Whether a float occurs anywhere in `value` (dicts, lists and tuples are searched)."""
    stack = [value]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is float:
            return True
        if kind is dict:
            stack.extend(value.values())
        elif kind is list or kind is tuple:
            stack.extend(value)
    return False


def canonical_json(value: Any, *, plain: bool = False) -> bytes:
    """`json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()`.

    `plain` says the caller knows `value` holds no float.
    """
    if plain or not has_float(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # integers past 64 bits, lone surrogates
            pass
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def loads(text: str | bytes) -> Any:
    """`json.loads(text)`: the same values, and json's errors for what it refuses."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if has_float(value) else value


def dumps_line(row: dict[str, Any], *, floats_checked: bool = False) -> bytes:
    """`row` as one JSONL line: `json.dumps(row, ensure_ascii=False, separators=(",", ":"))` and
    a newline, keys in the row's order.

    `floats_checked` says every float in `row` is one orjson writes as json does; this holds for
    the rounded shares and margins of the exports (4 decimals, between 0 and 3; a test checks
    them all), so such rows need not be searched.
    """
    if floats_checked or not has_float(row):
        try:
            return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:
            pass
    return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
