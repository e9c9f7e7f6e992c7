"""The quality page's charts, drawn from the figures of `quality.report` and the frames beside it.

The figures are the report's own (gold accuracy and its Wilson interval, left share): a chart
shows what the table beside it says, never a second computation of it. What the report has no
column for is computed here from the same reads and the same functions: each annotation's speed
(`bias.seconds_per_1k_chars`) and the agreement of the items finished in each week
(`agreement.percent_agreement`, with its MIN_ITEMS). Experts are named as the report names them.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Max
from django.utils import timezone

from annotations.models import Annotation
from annotations.queries import is_label
from labelhub.charts import (
    NOT_ENOUGH_DATA,
    Chart,
    IntervalRow,
    bar_chart,
    histogram,
    interval_chart,
    percent,
)
from projects.models import Project
from quality.agreement import ITEM, MIN_ITEMS, percent_agreement
from quality.bias import seconds_per_1k_chars
from quality.frames import judgment_frames
from quality.report import QualityReport
from quality.signals import annotation_frame
from quality.templatetags.quality import pvalue

# A distribution of fewer annotations than this tells nothing; as many as agreement asks of items.
MIN_TIMED = MIN_ITEMS
# The speed histogram's bins up to the 95th percentile; the slower rest share one last bin, so a
# tab left open does not squeeze everyone else into the first bar.
SPEED_BINS, SPEED_QUANTILE = 12, 0.95


def _who(expert: dict[str, Any]) -> str:
    return expert.get("username") or expert["annotator"]


def gold_chart(project: Project, report: QualityReport) -> Chart:
    bar = project.gold_bar_percent / 100 if project.gold_bar_percent else None
    experts = report.experts
    rows = [
        [
            _who(e),
            e["gold_answered"],
            e["gold_accuracy"],
            *(e["gold_interval"] or [None, None]),
            project.gold_bar_percent / 100,
        ]
        for e in experts
    ]
    chart = Chart(
        name="gold-accuracy",
        title="Gold accuracy per expert, with its 95% interval",
        description=(
            "Each expert's share of gold checks answered as expected, a point with a line over its 95% "
            "Wilson interval"
            + (f"; the dashed line is the project's gold bar of {percent(bar)}." if bar else ".")
        ),
        columns=["annotator", "gold_answered", "gold_accuracy", "interval_low", "interval_high", "gold_bar"],
        rows=rows,
    )
    if not any(e["gold_accuracy"] is not None for e in experts):
        return _empty(chart, f"{NOT_ENOUGH_DATA}: no gold check answered yet")
    shown = [
        IntervalRow(
            _who(e),
            e["gold_accuracy"],
            *(e["gold_interval"] or [None, None]),
            note=(
                "no gold answered"
                if e["gold_accuracy"] is None
                else f"{percent(e['gold_accuracy'])} of {e['gold_answered']} "
                f"({percent(e['gold_interval'][0])}\N{EN DASH}{percent(e['gold_interval'][1])})"
            ),
        )
        for e in experts
    ]
    return _drawn(chart, interval_chart, shown, bar, f"gold bar {percent(bar)}" if bar else "")


def left_share_chart(report: QualityReport) -> Chart:
    experts = report.experts
    chart = Chart(
        name="left-share",
        title="Share of choices for the left side, per expert",
        description=(
            "Each expert's share of A-or-B choices that went to the response shown on the left. Sides are "
            "shown in random order, so a careful expert stays near the dashed line at 50%."
        ),
        columns=["annotator", "left_share", "left_p_value"],
        rows=[[_who(e), e["left_share"], e["left_p_value"]] for e in experts],
    )
    if not any(e["left_share"] is not None for e in experts):
        return _empty(chart, f"{NOT_ENOUGH_DATA}: nobody has chosen a side yet")
    shown = [
        IntervalRow(
            _who(e),
            e["left_share"],
            note=NOT_ENOUGH_DATA
            if e["left_share"] is None
            else percent(e["left_share"])
            + ("" if e["left_p_value"] is None else f" (p = {pvalue(e['left_p_value'])})"),
        )
        for e in experts
    ]
    return _drawn(chart, bar_chart, shown, 0.5, "50%")


def judged_annotations(project: Project) -> pd.DataFrame:
    """The project's judgments as the report reads them for its speed figure (labels with a choice)."""
    annotated = annotation_frame(project)
    return annotated[annotated["preference"] != ""]


def speed_chart(project: Project) -> Chart:
    rates = seconds_per_1k_chars(judged_annotations(project)).dropna().astype(float).to_numpy()
    chart = Chart(
        name="speed",
        title="Active seconds per 1,000 characters read",
        description=(
            "How many annotations took how long: active seconds per 1,000 characters of prompt and "
            "responses, one count per annotation with a recorded time. The last bin holds the slowest 5%."
        ),
        columns=["seconds_per_1k_chars_from", "seconds_per_1k_chars_to", "annotations"],
    )
    if len(rates) < MIN_TIMED:
        return _empty(chart, f"{NOT_ENOUGH_DATA}: fewer than {MIN_TIMED} annotations with a recorded time")
    bins = speed_bins(rates)
    chart = replace(chart, rows=[list(b) for b in bins])
    svg = histogram(
        name=chart.name,
        title=chart.title,
        description=chart.description,
        bins=bins,
        axis_label="active seconds per 1,000 characters",
    )
    return replace(chart, svg=svg)


def speed_bins(rates: np.ndarray) -> list[tuple[float, float, int]]:
    """(from, to, count) over `rates`: SPEED_BINS equal bins up to the SPEED_QUANTILE, then one for
    the rest. Each bin holds its upper edge, the first its lower one too."""
    top = float(np.quantile(rates, SPEED_QUANTILE))
    highest = float(rates.max())
    if top <= 0:
        top = highest or 1.0
    counts, edges = np.histogram(rates[rates <= top], bins=SPEED_BINS, range=(0.0, top))
    bins = [
        (float(low), float(high), int(n)) for low, high, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    slower = int((rates > top).sum())
    if slower:
        bins.append((top, highest, slower))
    return bins


def weekly_agreement_chart(project: Project, report: QualityReport) -> Chart:
    weeks = weekly_agreement(project)
    overall = report.agreement.get("percent")
    chart = Chart(
        name="agreement-weekly",
        title="Agreement between experts, by the week items were finished",
        description=(
            "Raw agreement among the items whose last judgment fell in each week (weeks start on Monday). "
            f"A week needs {MIN_ITEMS} items judged by two experts or more"
            + ("." if overall is None else f"; the dashed line is the whole project's {percent(overall)}.")
        ),
        columns=["week_starting", "items_judged_twice_or_more", "percent_agreement"],
        rows=[[week.isoformat(), shared, value] for week, shared, value in weeks],
    )
    if not any(value is not None for _, _, value in weeks):
        return _empty(chart, f"{NOT_ENOUGH_DATA}: no week has {MIN_ITEMS} items judged by two or more")
    shown = [
        IntervalRow(
            f"week of {week:%d %b %Y}",
            value,
            note=f"{NOT_ENOUGH_DATA} ({shared} items)" if value is None else f"{percent(value)} of {shared}",
        )
        for week, shared, value in weeks
    ]
    label = "" if overall is None else f"project {percent(overall)}"
    return _drawn(chart, bar_chart, shown, overall, label)


def weekly_agreement(project: Project) -> list[tuple[date, int, float | None]]:
    """Per week (its Monday, in the site's time zone) from the first to the last: how many items
    finished in it were judged by two experts or more, and their percent agreement (None below
    MIN_ITEMS). An item is finished in the week of its last judgment."""
    choices = judgment_frames(project).choices
    last = pd.DataFrame(
        list(
            Annotation.objects.filter(is_label(), project=project)
            .exclude(preference="")
            .values("item_id")
            .annotate(last=Max("submitted_at"))
            .order_by()
            .values_list("item_id", "last")
        ),
        columns=[ITEM, "last"],
    )
    if last.empty:
        return []
    local = pd.to_datetime(last["last"], utc=True).dt.tz_convert(timezone.get_current_timezone())
    days = local.dt.date
    last["week"] = [day - timedelta(days=day.weekday()) for day in days]
    by_week = last.groupby("week")[ITEM].apply(set)
    first, final = min(by_week.index), max(by_week.index)
    out = []
    week = first
    while week <= final:
        judged = choices[choices[ITEM].isin(by_week.get(week, set()))]
        shared = int((judged.groupby(ITEM).size() >= 2).sum())
        out.append((week, shared, percent_agreement(judged)))
        week += timedelta(days=7)
    return out


# The charts of the page, in its order; the download names one of them.
CHARTS: dict[str, Callable[[Project, QualityReport], Chart]] = {
    "gold-accuracy": gold_chart,
    "left-share": lambda project, report: left_share_chart(report),
    "speed": lambda project, report: speed_chart(project),
    "agreement-weekly": weekly_agreement_chart,
}


def quality_charts(project: Project, report: QualityReport) -> list[Chart]:
    return [build(project, report) for build in CHARTS.values()]


def _empty(chart: Chart, why: str) -> Chart:
    return replace(chart, svg="", empty=why)


def _drawn(chart: Chart, draw: Callable[..., str], rows: list[IntervalRow], reference, label: str) -> Chart:
    svg = draw(
        name=chart.name,
        title=chart.title,
        description=chart.description,
        rows=rows,
        reference=reference,
        reference_label=label,
    )
    return replace(chart, svg=svg)
