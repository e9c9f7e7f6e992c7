"""Invisible fingerprints in rendered guidelines, to trace a leaked copy back to one viewing.

Each showing of a guideline (a `GuidelineView`) gets its id woven into the text as a run of
zero-width characters: at the start of every paragraph, list item, heading and table cell, and
after every sentence. Browsers keep these characters in `innerText` and on the clipboard, so a
plain copy-and-paste of any paragraph carries at least one mark. Each mark holds the view id and
a check byte keyed by the server's secret, so damaged or forged marks are told apart from real
ones.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings

# Four zero-width characters carry two bits each; two invisible operators frame a mark.
DIGITS = ("\u200b", "\u200c", "\u200d", "\u2060")
START, END = "\u2062", "\u2063"
_DIGIT_VALUE = {char: value for value, char in enumerate(DIGITS)}
_MARK = re.compile(f"{START}([{''.join(DIGITS)}]+){END}")
_BLOCK_OPEN = re.compile(r"<(p|li|h[1-6]|td|th|blockquote)(\s[^>]*)?>")
_TEXT_NODE = re.compile(r">([^<]+)<")
_SENTENCE_END = re.compile(r"([.!?;:])(\s+)(?=\S)")


def _check_byte(view_id: int) -> int:
    key = settings.PSEUDONYM_KEY.encode()
    return hmac.new(key, f"guideline-view:{view_id}".encode(), hashlib.sha256).digest()[0]


def encode_mark(view_id: int) -> str:
    value = (view_id << 8) | _check_byte(view_id)
    digits = []
    while value:
        value, digit = divmod(value, 4)
        digits.append(DIGITS[digit])
    return START + "".join(reversed(digits)) + END


def fingerprint_html(html: str, view_id: int) -> str:
    """`html` (already sanitised) with the view's mark at every block start and sentence end."""
    mark = encode_mark(view_id)
    marked = _BLOCK_OPEN.sub(lambda m: m.group(0) + mark, html)
    return _TEXT_NODE.sub(
        lambda m: ">" + _SENTENCE_END.sub(lambda s: s.group(1) + mark + s.group(2), m.group(1)) + "<", marked
    )


@dataclass(frozen=True)
class Trace:
    view_ids: list[int]  # marks whose check byte holds, in order of first appearance
    damaged: int  # marks found whose check byte does not hold


def trace_text(text: str) -> Trace:
    found: list[int] = []
    damaged = 0
    for match in _MARK.finditer(text):
        value = 0
        for char in match.group(1):
            value = value * 4 + _DIGIT_VALUE[char]
        view_id, check = value >> 8, value & 0xFF
        if view_id and _check_byte(view_id) == check:
            if view_id not in found:
                found.append(view_id)
        else:
            damaged += 1
    return Trace(found, damaged)
