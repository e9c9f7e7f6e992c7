"""The annotations app's writes, one service each, named for what they do:

- `serving`: the next item's lease (gold checks mixed in), and keeping a lease alive;
- `submission`: a judgment stored exactly once, a skip, a draft; judgments withdrawn.

Callers use the names below (`services.assignment_next(...)`), so the views and the API reach
every service through this module. What may be served, and what is open to whom, is read-only
and lives in `annotations.eligibility`; what a judgment must satisfy, in `annotations.judging`
(`Judgment` is named here too, as the submission takes one).
"""

from annotations.judging import Judgment
from annotations.services.serving import LeaseLost, assignment_extend, assignment_next
from annotations.services.submission import (
    DRAFT_MAX_CHARS,
    KeyReused,
    Submission,
    annotation_submit,
    annotations_delete,
    assignment_skip,
    draft_save,
)

__all__ = [
    "DRAFT_MAX_CHARS",
    "Judgment",
    "KeyReused",
    "LeaseLost",
    "Submission",
    "annotation_submit",
    "annotations_delete",
    "assignment_extend",
    "assignment_next",
    "assignment_skip",
    "draft_save",
]
