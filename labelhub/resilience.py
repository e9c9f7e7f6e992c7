"""Riding out a database that drops and comes back (a PostgreSQL restart or failover).

Without this, every request in flight during a restart ends in a 500 page and the expert does
not know whether their label was stored. Here a view that is safe to run again (reads, and the
labelling actions that are idempotent by design) is retried on a fresh connection for a few
seconds; whatever still fails is answered 503 with Retry-After and a message that says nothing
was saved, so the page (or a client) can try again.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
# Pauses between attempts: about five seconds in all, the time PostgreSQL takes to restart.
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 1.5, 2.0)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The database is briefly unavailable. Nothing was saved; please try again in a few seconds."


def safe_to_retry(view: Callable) -> Callable:
    """Mark a view whose effect is the same however often it runs (for function views, or DRF
    view classes): it is retried when the database drops, whatever the HTTP method."""
    view.safe_to_retry = True
    return view


def _retryable(request: HttpRequest, view_func: Callable) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    return bool(getattr(view_func, "safe_to_retry", False) or getattr(view_class, "safe_to_retry", False))


def _reset_connection() -> None:
    """Drop a broken connection so that the next query opens a new one."""
    try:
        if connection.connection is not None and not connection.is_usable():
            connection.close()
    except DATABASE_DOWN:
        connection.connection = None
        connection.close()


def unavailable(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": UNAVAILABLE}, status=503)
    else:
        response = render(request, "503.html", {"message": UNAVAILABLE}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseRestartMiddleware:
    """Runs the view itself (it sits after the middleware that checks CSRF and authentication),
    again on a new connection if the database went away, then 503 rather than 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        retryable = _retryable(request, view_func)
        for attempt, pause in enumerate((*BACKOFF_SECONDS, None)):
            try:
                return view_func(request, *view_args, **view_kwargs)
            except DATABASE_DOWN as error:
                if transaction.get_connection().in_atomic_block:
                    raise  # an enclosing transaction is lost; only its owner may decide
                logger.warning(
                    "database unavailable on %s %s (attempt %d): %s",
                    request.method,
                    request.path,
                    attempt + 1,
                    error,
                )
                _reset_connection()
                if not retryable or pause is None:
                    return unavailable(request)
                time.sleep(pause)
        return None  # not reached: the last attempt returns or raises
