import json
import random

import pytest

from labelhub.fastjson import canonical_json, dumps_line, loads

EDGE_VALUES = [
    {"b": 1, "a": [True, None, -3, "x"], "": {}},
    {"é": "naïve — ☃ \U0001f600", "e": 'tab\there\x01\x1f\x7f\u2028\\"quote"'},
    {"small": 1e-05, "tiny": 1.5e-7, "big": 1e16, "half": 0.5, "negative zero": -0.0},
    {"past 64 bits": 123456789012345678901234567890, "edge": 2**63 - 1},
]


@pytest.mark.parametrize("value", EDGE_VALUES)
def test_canonical_json_writes_json_dumps_bytes(value):
    expected = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert canonical_json(value) == expected.encode()


def test_canonical_json_refuses_a_lone_surrogate_as_json_dumps_encode_did():
    with pytest.raises(UnicodeEncodeError):
        canonical_json(["\ud800"])


@pytest.mark.parametrize("value", EDGE_VALUES)
def test_dumps_line_writes_json_dumps_bytes_in_the_rows_own_key_order(value):
    row = {"z": value, "a": 1}
    expected = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert dumps_line(row) == expected.encode()


def test_every_rounded_share_and_margin_is_written_as_json_writes_it():
    # Exports pass floats_checked for rows whose floats are these: 4 decimals, from 0 to 3.
    values = [round(k / 10_000, 4) for k in range(30_001)]
    values += [round(k / n, 4) for n in range(1, 300) for k in range(3 * n + 1)]
    line = dumps_line({"values": values}, floats_checked=True)
    assert line == (json.dumps({"values": values}, separators=(",", ":")) + "\n").encode()


def test_every_number_rounded_to_four_decimals_below_10_to_the_15_is_written_as_json_writes_it():
    # The columns other apps add to an export hold such numbers (annotations.exports.ColumnSource):
    # seconds per 1,000 characters up to 86,400,000, shares, and any other figure of that kind.
    draws = random.Random(15)
    values = [round(draws.uniform(0, 10 ** draws.randint(-4, 15)), 4) for _ in range(200_000)]
    values += [0.0001, 0.0005, 86_400_000.0, 123_456_789.1234, 10**15 - 0.0001, 999_999_999_999.9999]
    line = dumps_line({"values": values}, floats_checked=True)
    assert line == (json.dumps({"values": values}, separators=(",", ":")) + "\n").encode()


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"n": 123456789012345678901234567890}',
        '{"f": 1e-05, "nan": NaN, "inf": 1e400}',
        '"\\ud800"',
        '[1.0, -0, 1E2, "\\u0000"]',
    ],
)
def test_loads_reads_what_json_reads(text):
    value, expected = loads(text), json.loads(text)
    assert repr(value) == repr(expected)


def test_loads_raises_jsons_own_error():
    with pytest.raises(json.JSONDecodeError) as raised:
        loads('{"a": 1,, "b": 2}')
    assert (raised.value.msg, raised.value.colno) == ("Expecting property name enclosed in double quotes", 9)
