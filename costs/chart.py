"""The margin-per-day chart, laid out on the server: the page draws it as SVG from these numbers,
with no script and no inline style (the CSP forbids both; colours are classes in app.css)."""

from dataclasses import dataclass
from decimal import Decimal

from costs.queries import MARGIN_TARGET_PERCENT, Group, tenths

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 28  # room for the axis labels
FLOOR = Decimal(-100)  # a day further below is drawn at the floor, its figure in its tooltip


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str  # "above" or "below" the target, or "unknown"
    label: str  # the day, under the bar
    title: str  # the tooltip: the day and its margin


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    bars: list[Bar]
    target_y: float
    zero_y: float
    ticks: list[Tick]


def margin_chart(per_day: list[Group]) -> Chart | None:
    """Bars of each day's margin %, with the target line; None when no day has a margin."""
    known = [group.figures.margin_percent for group in per_day if group.figures.margin_percent is not None]
    if not known:
        return None
    low = max(FLOOR, min(Decimal(0), *known))
    low = Decimal(10) * (low / 10).to_integral_value(rounding="ROUND_FLOOR")
    high = Decimal(100)
    plot = HEIGHT - TOP - BOTTOM

    def y(percent: Decimal) -> float:
        return round(TOP + float((high - max(low, percent)) / (high - low)) * plot, 1)

    slot = (WIDTH - LEFT - RIGHT) / len(per_day)
    every = max(1, round(len(per_day) / 8))  # at most about eight day labels under the axis
    zero = y(Decimal(0))
    bars = []
    for n, group in enumerate(per_day):
        percent, day = group.figures.margin_percent, group.key.isoformat()
        label = day if n % every == 0 else ""
        x = round(LEFT + n * slot + slot * 0.15, 1)
        if percent is None:
            bars.append(Bar(x, zero - 2, round(slot * 0.7, 1), 2, "unknown", label, f"{day}: margin unknown"))
            continue
        top, bottom = sorted((y(percent), zero))
        css_class = "below" if percent < MARGIN_TARGET_PERCENT else "above"
        bars.append(
            Bar(
                x,
                top,
                round(slot * 0.7, 1),
                max(round(bottom - top, 1), 1),
                css_class,
                label,
                f"{day}: {tenths(percent)} %",
            )
        )
    ticks = [
        Tick(y(Decimal(value)), f"{value} %")
        for value in range(int(low), 101, 50 if high - low > 100 else 25)
    ]
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, bars, y(MARGIN_TARGET_PERCENT), zero, ticks)
