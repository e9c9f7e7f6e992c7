"""The annotations app's writes, one service each, named for what they do:

- `serving`: the next item's lease (gold checks mixed in), and keeping a lease alive;
- `submission`: a judgment stored exactly once, a skip, a draft.

Callers use the names below (`services.assignment_next(...)`), so the views and the API reach
every service through this module. What may be served, and what is open to whom, is read-only
and lives in `annotations.eligibility`.
"""

from annotations.services.serving import LeaseLost, assignment_extend, assignment_next
from annotations.services.submission import (
    DISPLAY_CHOICES,
    DRAFT_MAX_CHARS,
    Judgment,
    KeyReused,
    Submission,
    annotation_submit,
    assignment_skip,
    draft_save,
)

__all__ = [
    "DISPLAY_CHOICES",
    "DRAFT_MAX_CHARS",
    "Judgment",
    "KeyReused",
    "LeaseLost",
    "Submission",
    "annotation_submit",
    "assignment_extend",
    "assignment_next",
    "assignment_skip",
    "draft_save",
]
