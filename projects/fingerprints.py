"""Invisible fingerprints in rendered guidelines, to trace a leaked copy back to one viewing.

Each showing of a guideline (a `GuidelineView`) gets its id woven into the text as a run of
zero-width characters: at the start of every paragraph, list item, heading and table cell, after
its first word, and after every sentence. Browsers keep these characters in `innerText` and on the
clipboard, so a plain copy-and-paste of any paragraph carries at least one mark. The mark after
the first word matters: a selection dragged from a block's first letter starts after the marks
that precede it, so a one-sentence paragraph would otherwise be copied without any. Code (inline
or in blocks) is left unmarked, so that a copied example still runs. Each mark holds the view id and
a 64-bit MAC of it under the server's key (`PSEUDONYM_KEY`): without the key, a forger who sprays
random marks into a leaked text to frame someone needs about 2**64 tries per mark that holds, and
damaged marks are told apart from real ones.
"""

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings

# Four zero-width characters carry two bits each; two invisible operators frame a mark.
DIGITS = ("\u200b", "\u200c", "\u200d", "\u2060")
START, END = "\u2062", "\u2063"
_DIGIT_VALUE = {char: value for value, char in enumerate(DIGITS)}
_MARK = re.compile(f"{START}([{''.join(DIGITS)}]+){END}")
_INVISIBLE = "".join(DIGITS) + START + END
# nh3 escapes "<" and ">" in text and attribute values alike, so every "<" opens a tag.
_TAG = re.compile(r"(<[^>]*>)")
_BLOCK_OPEN = re.compile(r"<(p|li|h[1-6]|td|th|blockquote)(\s[^>]*)?>")
_BLOCK_CLOSE = re.compile(r"</(p|li|h[1-6]|td|th|blockquote)>")
_CODE_OPEN = re.compile(r"<(code|pre)(\s[^>]*)?>")
_CODE_CLOSE = re.compile(r"</(code|pre)>")
_SENTENCE_END = re.compile(r"([.!?;:])(\s+)(?=\S)")
# Between a block's first visible word and the whitespace after it.
_FIRST_GAP = re.compile(f"(?<=[^\\s{_INVISIBLE}])(?=\\s)")


MAC_BITS = 64


def _mac(view_id: int) -> int:
    key = settings.PSEUDONYM_KEY.encode()
    digest = hmac.new(key, f"guideline-view:{view_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[: MAC_BITS // 8])


def encode_mark(view_id: int) -> str:
    value = (view_id << MAC_BITS) | _mac(view_id)
    digits = []
    while value:
        value, digit = divmod(value, 4)
        digits.append(DIGITS[digit])
    return START + "".join(reversed(digits)) + END


def strip_marks(text: str) -> str:
    """`text` without fingerprint marks. Only whole marks go, so a ZWJ in an emoji or a ZWNJ in
    Persian stays."""
    return _MARK.sub("", text)


def fingerprint_html(html: str, view_id: int) -> str:
    """`html` (already sanitised) with the view's mark at every block start, first word and sentence end."""
    mark = encode_mark(view_id)
    # Marks already in the source (guidelines pasted from a rendered page) would name their viewer
    # in every later copy.
    html = strip_marks(html)
    out: list[str] = []
    in_code = 0  # depth of <pre>/<code>: copied code must stay as it was
    first_word_pending = False  # a block has opened and its first word is not yet marked
    block_has_text = False
    for token in _TAG.split(html):
        if token.startswith("<"):
            out.append(token)
            if _CODE_OPEN.fullmatch(token):
                in_code += 1
            elif _CODE_CLOSE.fullmatch(token):
                in_code = max(in_code - 1, 0)
            elif _BLOCK_OPEN.fullmatch(token):
                out.append(mark)
                first_word_pending, block_has_text = True, False
            elif _BLOCK_CLOSE.fullmatch(token):
                first_word_pending = False
            continue
        if not token:
            continue
        if in_code:
            block_has_text = block_has_text or not token.isspace()
            out.append(token)
            continue
        if first_word_pending:
            if block_has_text and token[0].isspace():  # the first word ended in the previous tag
                token, found = mark + token, 1
            else:
                token, found = _FIRST_GAP.subn(mark, token, count=1)
            first_word_pending = not found
        block_has_text = block_has_text or not token.isspace()
        # A sentence mark goes between the punctuation and the space; a first-word mark already
        # there leaves the punctuation followed by no space, so the two never double up.
        out.append(_SENTENCE_END.sub(lambda s: s.group(1) + mark + s.group(2), token))
    return "".join(out)


@dataclass(frozen=True)
class Trace:
    view_ids: list[int]  # views whose marks hold, in order of first appearance
    damaged: int  # marks found whose MAC does not hold
    marks: Counter[int] = field(default_factory=Counter)  # valid marks found, per view

    @property
    def valid(self) -> int:
        return self.marks.total()


def trace_text(text: str) -> Trace:
    marks: Counter[int] = Counter()
    damaged = 0
    for match in _MARK.finditer(text):
        value = 0
        for char in match.group(1):
            value = value * 4 + _DIGIT_VALUE[char]
        view_id, mac = value >> MAC_BITS, value & ((1 << MAC_BITS) - 1)
        if view_id and hmac.compare_digest(_mac(view_id).to_bytes(8), mac.to_bytes(8)):
            marks[view_id] += 1
        else:
            damaged += 1
    return Trace(list(marks), damaged, marks)
