"""The project page's chart: labels per day, stacked by outcome.

Counts what `progress.project_progress` counts: labels by `is_label` (qualification answers are
no data), skips as the page's Skips figure counts them (every skip in the project). Days are the
site's time zone's, and every day from the first label to the last has its column, empty or not.
"""

from dataclasses import replace
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate

from annotations.models import Annotation
from annotations.queries import is_label
from labelhub.charts import (
    BLUE,
    GREEN,
    GREY,
    NOT_ENOUGH_DATA,
    ORANGE,
    PINK,
    SKY,
    Chart,
    Series,
    stacked_columns,
)
from projects.models import Project
from projects.vocabulary import Preference

SKIP, RATED = "skip", "rated"  # a skip; an annotation with a rubric rating and no choice
OUTCOMES = [
    Series(Preference.A.value, "A better", BLUE),
    Series(Preference.B.value, "B better", ORANGE),
    Series(Preference.TIE.value, "Tie", GREEN),
    Series(Preference.BOTH_BAD.value, "Both bad", PINK),
    Series(SKIP, "Skipped", GREY),
]
RATED_ONLY = Series(RATED, "Rated only", SKY)
CHARTS = ("labels-per-day",)


def labels_per_day(project: Project) -> Chart:
    per_day: dict[date, dict[str, int]] = {}
    labels = (
        Annotation.objects.filter(is_label(), project=project)
        .annotate(day=TruncDate("submitted_at"))
        .values("day", "preference")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "preference", "n")
    )
    for day, preference, n in labels:
        outcome = preference or RATED
        per_day.setdefault(day, {})[outcome] = per_day.get(day, {}).get(outcome, 0) + n
    skips = (
        project.skips.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("day", "n")
    )
    for day, n in skips:
        per_day.setdefault(day, {})[SKIP] = n
    series = OUTCOMES + ([RATED_ONLY] if any(RATED in counts for counts in per_day.values()) else [])
    days = _every_day(per_day)
    chart = Chart(
        name="labels-per-day",
        title="Labels per day, by outcome",
        description=(
            "How many labels were submitted each day, stacked by what they said: "
            + ", ".join(entry.label for entry in series)
            + "."
        ),
        columns=["day", *(entry.key for entry in series)],
        rows=[
            [day.isoformat(), *(per_day.get(day, {}).get(entry.key, 0) for entry in series)] for day in days
        ],
    )
    if not days:
        return replace(chart, empty=f"{NOT_ENOUGH_DATA}: nothing labelled yet")
    svg = stacked_columns(
        name=chart.name,
        title=chart.title,
        description=chart.description,
        columns=[(f"{day:%d %b}", per_day.get(day, {})) for day in days],
        series=series,
    )
    return replace(chart, svg=svg)


def _every_day(per_day: dict[date, dict[str, int]]) -> list[date]:
    if not per_day:
        return []
    first, last = min(per_day), max(per_day)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
