"""How quality figures read on a page: a missing figure says so rather than showing 0."""

from django import template

register = template.Library()

NO_DATA = "not enough data"


@register.filter
def share(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.0%}"


@register.filter
def figure(value: float | None, digits: str = "2") -> str:
    return NO_DATA if value is None else f"{value:.{int(digits)}f}"


@register.filter
def pvalue(value: float | None) -> str:
    if value is None:
        return NO_DATA
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
