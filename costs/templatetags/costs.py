"""How money reads on a page: a figure that cannot be known says so rather than showing 0."""

from decimal import Decimal

from django import template

from costs.queries import cents, tenths

register = template.Library()
MINUS = "\N{MINUS SIGN}"  # reads as a minus, where a hyphen would read as a dash

UNKNOWN = "unknown"


@register.filter
def money(value: Decimal | None) -> str:
    if value is None:
        return UNKNOWN
    rounded = cents(value)
    return f"{MINUS}${-rounded:,}" if rounded < 0 else f"${rounded:,}"


@register.filter
def percent(value: Decimal | None) -> str:
    return UNKNOWN if value is None else f"{tenths(value)} %".replace("-", MINUS)


@register.filter
def hours(value: Decimal) -> str:
    return f"{cents(value):,}"


@register.filter
def hours_of(seconds: int) -> str:
    return hours(Decimal(seconds) / 3600)
