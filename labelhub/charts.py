"""Charts drawn on the server as SVG, shown inline on the pages and downloaded as files.

Why hand-written SVG: the CSP (`SECURE_CSP` in settings) allows styles only from our own
stylesheet, so a chart may carry no `style` attribute and no `<style>` block, and scripts only
from `static/`. The SVG libraries at hand do not fit: pygal writes a `<style>` block and loads its
tooltips from a CDN, matplotlib writes `style="..."` on every shape. Here every colour and font is
a presentation attribute (`fill=`, `stroke=`, `font-size=`), which the CSP does not govern and
which `static/css/app.css` may override by class on the page. Text and axes are `currentColor`,
so they take the colour of the text around them; the series colours are the Okabe-Ito palette,
mid-tone and told apart by colour-blind readers, on light and dark backgrounds alike.

Each chart is a `Chart`: its data as rows (the CSV), and its drawing (the SVG), or the reason
there is none ("not enough data", never an empty axis that reads as 0). The SVG is built with
ElementTree, so every text is escaped and the document is well-formed.
"""

import csv
import io
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse
from django.utils.safestring import SafeString, mark_safe

NOT_ENOUGH_DATA = "not enough data"

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
# Okabe-Ito: distinguishable with every common colour-vision deficiency.
BLUE, ORANGE, GREEN, PINK, SKY, GREY, VERMILLION = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#999999",
    "#D55E00",
)
WIDTH = 680
LABEL_WIDTH = 160  # the rows' names, left of the plot
VALUE_WIDTH = 170  # the figures, right of the plot
ROW_HEIGHT = 26
TOP, BOTTOM = 34, 34  # room for the reference's label above, the axis below


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Chart:
    """One chart: `name` is its slug in the download URLs; `columns` and `rows` are its data as
    the CSV gives them; `svg` is empty when there is too little data, and `empty` then says why."""

    name: str
    title: str
    description: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    svg: str = ""
    empty: str = ""

    @property
    def inline(self) -> SafeString:
        """The SVG for the page (built by ElementTree from escaped text, so safe to mark)."""
        return mark_safe(self.svg)

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([["" if value is None else value for value in row] for row in self.rows])
        return out.getvalue()

    def file_svg(self) -> str:
        """The SVG as a file: with the XML declaration, and a placeholder drawing when empty."""
        svg = self.svg or _message_svg(self.name, self.title, self.description, self.empty or NOT_ENOUGH_DATA)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n"


def chart_download(chart: Chart, *, fmt: str, stem: str) -> HttpResponse:
    """`chart` as an attachment: `fmt` is "svg" or "csv"; the file is named `stem`-name.fmt."""
    if fmt == "svg":
        response = HttpResponse(chart.file_svg(), content_type="image/svg+xml; charset=utf-8")
    elif fmt == "csv":
        response = HttpResponse(chart.csv_text(), content_type="text/csv; charset=utf-8")
    else:
        raise ValueError(f"Unknown chart format {fmt!r}: use svg or csv.")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{chart.name}.{fmt}"'
    return response


def percent(value: float) -> str:
    return f"{value:.0%}"


# The drawings.


@dataclass(frozen=True)
class IntervalRow:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""  # the figure as read to the right of the plot, or why there is none


def interval_chart(
    *,
    name: str,
    title: str,
    description: str,
    rows: Sequence[IntervalRow],
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """One row per `rows` on a 0-100 % scale: a point at the value, a line over its interval, and a
    dashed line at `reference`. A row without a value shows its note in place of the point."""
    svg, plot = _frame(name, title, description, len(rows))
    for n, row in enumerate(rows):
        y = TOP + n * ROW_HEIGHT + ROW_HEIGHT / 2
        _row_label(svg, row.label, y)
        if row.value is None:
            _note(svg, plot, y, row.note)
            continue
        mark = ET.SubElement(svg, "g", {"class": "chart-mark"})
        ET.SubElement(mark, "title").text = f"{row.label}: {row.note}"
        if row.low is not None and row.high is not None:
            _line(mark, plot.x(row.low), y, plot.x(row.high), y, colour=BLUE, width="3", css="chart-interval")
        ET.SubElement(
            mark,
            "circle",
            {"cx": _n(plot.x(row.value)), "cy": _n(y), "r": "5", "fill": BLUE, "class": "chart-point"},
        )
        _text(svg, plot.right + 8, y + 4, row.note)
    _percent_axis(svg, plot, len(rows))
    _reference(svg, plot, reference, reference_label, len(rows))
    return _serialise(svg)


def bar_chart(
    *,
    name: str,
    title: str,
    description: str,
    rows: Sequence[IntervalRow],
    reference: float | None = None,
    reference_label: str = "",
) -> str:
    """Horizontal bars on a 0-100 % scale, one per row, with a dashed line at `reference`; a row
    without a value reads its note (by default "not enough data") instead of a bar of 0."""
    svg, plot = _frame(name, title, description, len(rows))
    for n, row in enumerate(rows):
        y = TOP + n * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2
        _row_label(svg, row.label, middle)
        if row.value is None:
            _text(
                svg, plot.x(0) + 4, middle + 4, row.note or NOT_ENOUGH_DATA, css="chart-note", opacity="0.7"
            )
            continue
        bar = ET.SubElement(
            svg,
            "rect",
            {
                "x": _n(plot.x(0)),
                "y": _n(y + 5),
                "width": _n(max(plot.x(row.value) - plot.x(0), 1)),
                "height": _n(ROW_HEIGHT - 10),
                "fill": BLUE,
                "class": "chart-bar",
            },
        )
        ET.SubElement(bar, "title").text = f"{row.label}: {row.note}"
        _text(svg, plot.right + 8, middle + 4, row.note)
    _percent_axis(svg, plot, len(rows))
    _reference(svg, plot, reference, reference_label, len(rows))
    return _serialise(svg)


def stacked_columns(
    *,
    name: str,
    title: str,
    description: str,
    columns: Sequence[tuple[str, dict[str, int]]],
    series: Sequence[Series],
) -> str:
    """One column per (label, {series key: count}), its counts stacked in the order of `series`,
    with a legend above and a count axis on the left."""
    height, left, right, top, bottom = 300, 48, WIDTH - 16, 46, 250
    svg = _root(name, title, description, height)
    for n, entry in enumerate(series):
        x = left + n * 110
        ET.SubElement(
            svg, "rect", {"x": _n(x), "y": "10", "width": "12", "height": "12", "fill": entry.colour}
        )
        _text(svg, x + 17, 21, entry.label)
    most = max([sum(counts.values()) for _, counts in columns] or [0])
    ceiling = _nice_ceiling(most)
    y = _scale(0, ceiling, bottom, top)
    for tick in _ticks(ceiling):
        _line(svg, left, y(tick), right, y(tick), width="1", opacity="0.15")
        _text(svg, left - 6, y(tick) + 4, f"{tick:g}", anchor="end")
    step = (right - left) / max(len(columns), 1)
    label_every = max(1, math.ceil(len(columns) / 10))
    for n, (label, counts) in enumerate(columns):
        x = left + n * step
        column = ET.SubElement(svg, "g", {"class": "chart-column"})
        ET.SubElement(column, "title").text = f"{label}: " + ", ".join(
            f"{entry.label} {counts.get(entry.key, 0)}" for entry in series
        )
        base = 0
        for entry in series:
            count = counts.get(entry.key, 0)
            if count:
                ET.SubElement(
                    column,
                    "rect",
                    {
                        "x": _n(x + step * 0.1),
                        "y": _n(y(base + count)),
                        "width": _n(max(step * 0.8, 1)),
                        "height": _n(y(base) - y(base + count)),
                        "fill": entry.colour,
                    },
                )
            base += count
        if n % label_every == 0:
            _text(svg, x + step / 2, bottom + 16, label, anchor="middle")
    _line(svg, left, bottom, right, bottom, width="1")
    return _serialise(svg)


def histogram(
    *,
    name: str,
    title: str,
    description: str,
    bins: Sequence[tuple[float, float, int]],
    axis_label: str,
) -> str:
    """Vertical bars over consecutive (low, high, count) bins, their edges on the axis below."""
    height, left, right, top, bottom = 280, 48, WIDTH - 16, 16, 226
    svg = _root(name, title, description, height)
    ceiling = _nice_ceiling(max([count for _, _, count in bins] or [0]))
    y = _scale(0, ceiling, bottom, top)
    for tick in _ticks(ceiling):
        _line(svg, left, y(tick), right, y(tick), width="1", opacity="0.15")
        _text(svg, left - 6, y(tick) + 4, f"{tick:g}", anchor="end")
    step = (right - left) / max(len(bins), 1)
    label_every = max(1, math.ceil(len(bins) / 8))
    for n, (low, high, count) in enumerate(bins):
        x = left + n * step
        if count:
            bar = ET.SubElement(
                svg,
                "rect",
                {
                    "x": _n(x + 1),
                    "y": _n(y(count)),
                    "width": _n(max(step - 2, 1)),
                    "height": _n(y(0) - y(count)),
                    "fill": BLUE,
                    "class": "chart-bar",
                },
            )
            ET.SubElement(bar, "title").text = f"{_edge(low)} to {_edge(high)}: {count}"
        if n % label_every == 0:
            _text(svg, x, bottom + 16, _edge(low), anchor="middle")
    if bins and (len(bins) - 1) % label_every:  # the top edge, unless a label just before it crowds it
        _text(svg, right, bottom + 16, _edge(bins[-1][1]), anchor="middle")
    _line(svg, left, bottom, right, bottom, width="1")
    _text(svg, (left + right) / 2, bottom + 38, axis_label, anchor="middle")
    return _serialise(svg)


# The pieces.


@dataclass(frozen=True)
class _Plot:
    left: float
    right: float

    def x(self, value: float) -> float:
        return self.left + min(max(value, 0.0), 1.0) * (self.right - self.left)


def _root(name: str, title: str, description: str, height: float) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {WIDTH} {_n(height)}",
            "width": str(WIDTH),
            "height": _n(height),
            "role": "img",
            "aria-labelledby": f"chart-{name}-title chart-{name}-desc",
            "font-family": FONT,
            "font-size": "12",
            "fill": "currentColor",
            "class": f"chart-svg chart-{name}",
        },
    )
    ET.SubElement(svg, "title", {"id": f"chart-{name}-title"}).text = title
    ET.SubElement(svg, "desc", {"id": f"chart-{name}-desc"}).text = description
    return svg


def _frame(name: str, title: str, description: str, rows: int) -> tuple[ET.Element, _Plot]:
    svg = _root(name, title, description, TOP + rows * ROW_HEIGHT + BOTTOM)
    return svg, _Plot(LABEL_WIDTH, WIDTH - VALUE_WIDTH)


def _message_svg(name: str, title: str, description: str, message: str) -> str:
    svg = _root(name, title, description, 60)
    _text(svg, 10, 34, message)
    return _serialise(svg)


def _row_label(svg: ET.Element, label: str, y: float) -> None:
    shown = label if len(label) <= 24 else label[:23] + "…"
    _text(svg, LABEL_WIDTH - 8, y + 4, shown, anchor="end")


def _note(svg: ET.Element, plot: _Plot, y: float, note: str) -> None:
    _text(svg, plot.x(0) + 4, y + 4, note or NOT_ENOUGH_DATA, css="chart-note", opacity="0.7")


def _percent_axis(svg: ET.Element, plot: _Plot, rows: int) -> None:
    bottom = TOP + rows * ROW_HEIGHT
    _line(svg, plot.left, bottom, plot.right, bottom, width="1")
    for tick in (0, 0.25, 0.5, 0.75, 1):
        _line(svg, plot.x(tick), TOP, plot.x(tick), bottom, width="1", opacity="0.15")
        _text(svg, plot.x(tick), bottom + 16, percent(tick), anchor="middle")


def _reference(svg: ET.Element, plot: _Plot, value: float | None, label: str, rows: int) -> None:
    if value is None:
        return
    x, bottom = plot.x(value), TOP + rows * ROW_HEIGHT
    line = _line(svg, x, TOP - 6, x, bottom, colour=VERMILLION, width="2", css="chart-reference")
    line.set("stroke-dasharray", "5 3")
    _text(svg, x, TOP - 12, label, anchor="middle", css="chart-reference-label")


def _line(
    parent: ET.Element,
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    colour: str = "currentColor",
    width: str = "1",
    opacity: str | None = None,
    css: str | None = None,
) -> ET.Element:
    attrs = {"x1": _n(x1), "y1": _n(y1), "x2": _n(x2), "y2": _n(y2), "stroke": colour, "stroke-width": width}
    if opacity:
        attrs["stroke-opacity"] = opacity
    if css:
        attrs["class"] = css
    return ET.SubElement(parent, "line", attrs)


def _text(
    parent: ET.Element,
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    css: str | None = None,
    opacity: str | None = None,
) -> ET.Element:
    attrs = {"x": _n(x), "y": _n(y), "text-anchor": anchor}
    if css:
        attrs["class"] = css
    if opacity:
        attrs["fill-opacity"] = opacity
    element = ET.SubElement(parent, "text", attrs)
    element.text = text
    return element


def _scale(low: float, high: float, bottom: float, top: float):
    span = (high - low) or 1
    return lambda value: bottom - (value - low) / span * (bottom - top)


def _nice_ceiling(most: float) -> float:
    """The smallest of 1, 2, 5 x 10^n at or above `most` (at least 1)."""
    if most <= 1:
        return 1
    power = 10 ** math.floor(math.log10(most))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= most)


def _ticks(ceiling: float) -> list[float]:
    # The ceilings are 1, 2, 5 x 10^n: up to 5 a tick per unit, above it five steps of whole numbers.
    return list(range(int(ceiling) + 1)) if ceiling <= 5 else [ceiling * n / 5 for n in range(6)]


def _edge(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def _n(value: float) -> str:
    """A coordinate, short: SVG needs no more than a tenth of a unit."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _serialise(svg: ET.Element) -> str:
    return ET.tostring(svg, encoding="unicode")
