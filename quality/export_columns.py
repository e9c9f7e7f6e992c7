"""The quality signals as columns of the `annotations` export, which `QualityConfig.ready()` adds.

Light on purpose: every process reads this module when it starts, while pandas, which computes
the values (`quality.signals`), is imported only by an export that asks for them. It costs each
process that imports it about 100 MB and a second.
"""

from typing import Any

from annotations.exports import ColumnSource
from projects.models import Project

# Each annotation's signals, each of one type (null: no figure).
SIGNAL_COLUMNS = {
    "chose_left": "boolean?",  # the response chosen was shown on the left (null: no side chosen)
    "chose_longer": "boolean?",  # ... was the longer one (null: no side chosen, or equal lengths)
    "seconds_per_1k_chars": "number?",  # active seconds per 1,000 characters read (null: no time)
    "too_fast": "boolean?",  # under the project's floor (null: no time, or no floor)
    "paste_share": "number?",  # of the rationales' characters, those pasted (null: no rationale)
    "rationale_repeated": "boolean?",  # the expert gave the same rationale on another item
    "rationale_short": "boolean?",  # under a quarter of the project's median rationale
}


def signal_values(project: Project) -> dict[int, tuple[Any, ...]]:
    from quality.signals import signal_values  # pandas: see the module

    return signal_values(project)


SIGNALS = ColumnSource(name="quality signals", columns=SIGNAL_COLUMNS, values=signal_values)
