"""The words a judgment is made of, defined once: the annotations' fields and check constraints,
gold answers, the import, the exports and the labelling page all read them from here.

They live in `projects` (not `annotations`) because a gold item's expected answer, which
`projects` owns, is said in the same words.
"""

from django.db import models


class Preference(models.TextChoices):
    """Which response is better, in the item's own terms: "a" is its first response."""

    A = "a", "A is better"
    B = "b", "B is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "both_bad", "Both are bad"


class Strength(models.IntegerChoices):
    """How much better the preferred response is."""

    SLIGHTLY = 1, "slightly better"
    CLEARLY = 2, "clearly better"
    MUCH = 3, "much better"


# A judgment that prefers one response (and may say by how much), and the ones that do not.
PREFERRING = (Preference.A.value, Preference.B.value)
NOT_PREFERRING = (Preference.TIE.value, Preference.BOTH_BAD.value)
