"""Rate limits for the pages: the API's own throttles (its classes, its rates, its counts in the
cache), so a person has one budget whichever door their requests come through, and a script
cannot drive the labelling pages faster than it may drive the API."""

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.settings import api_settings

TOO_MANY = "Too many requests in a short time, so this one was not carried out. Wait {wait} and try again."


# A request counted against the rates carries this mark: a retry of it is not another request.
_COUNTED = "_labelhub_rate_counted"


def already_counted(request: HttpRequest) -> bool:
    return getattr(request, _COUNTED, False)


def mark_counted(request: HttpRequest) -> None:
    setattr(request, _COUNTED, True)


def over_rate(request: HttpRequest) -> float | None:
    """Count `request` as the API counts its requests. None while it is within every rate, else
    the seconds to wait (0 when the throttle cannot tell)."""
    waits = []
    for throttle in (cls() for cls in api_settings.DEFAULT_THROTTLE_CLASSES):
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 0)
    return max(waits) if waits else None


def too_many_requests(request: HttpRequest, wait: float, *, json: bool = False) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    message = TOO_MANY.format(wait=f"{seconds} second{'s' if seconds != 1 else ''}")
    if json:
        response: HttpResponse = JsonResponse({"error": message}, status=429)
    else:
        # An htmx request gets the message alone; the page keeps what the person entered.
        template = "429.html#message" if getattr(request, "htmx", False) else "429.html"
        response = render(request, template, {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def throttled(*, json: bool = False) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page (or, with `json`, a JSON endpoint of a page) under the API's rates: past them it
    answers 429 with Retry-After and runs nothing."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # A view retried after the database dropped (labelhub.resilience) runs this again.
            if not already_counted(request):
                mark_counted(request)
                wait = over_rate(request)
                if wait is not None:
                    return too_many_requests(request, wait, json=json)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
