"""Riding out a database that drops and comes back (a PostgreSQL restart or failover).

Without this, every request in flight during a restart ends in a 500 page and the expert does
not know whether their label was stored. Here a view that is safe to run again (the labelling
actions, idempotent by design) retries itself on a fresh connection for a few seconds; whatever
still fails is answered 503 by the middleware, with Retry-After and a message that says nothing
was saved, so the page (or a client) can try again.
"""

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.shortcuts import render

from labelhub.throttling import already_counted, mark_counted

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
# Pauses between attempts: about five seconds in all, the time PostgreSQL takes to restart.
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 1.5, 2.0)
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The database is briefly unavailable. Nothing was saved; please try again in a few seconds."


def safe_to_retry[V](view: V) -> V:
    """Decorate a view whose effect is the same however often it runs (a function view, or a
    view class, DRF's included): when the database drops during it, it runs again on a new
    connection, for about five seconds, before the middleware answers 503.

    The retry happens inside the view, below every middleware and inside whatever wraps the view
    (ATOMIC_REQUESTS included: within a transaction nothing is retried, the transaction's owner
    decides), so a retried view sees exactly what its first attempt saw.
    """
    if isinstance(view, type):
        view.dispatch = _retrying(view.dispatch, request_at=1)  # type: ignore[attr-defined]
        if hasattr(view, "check_throttles"):  # DRF's: a retry is not another request to count
            view.check_throttles = _counted_once(view.check_throttles)  # type: ignore[attr-defined]
        return view
    return _retrying(view, request_at=0)  # type: ignore[arg-type,return-value]


def _counted_once(check_throttles: Callable) -> Callable:
    @functools.wraps(check_throttles)
    def check(self: Any, request: Any) -> None:
        django_request = getattr(request, "_request", request)  # DRF's request wraps Django's
        if already_counted(django_request):
            return
        check_throttles(self, request)
        mark_counted(django_request)

    return check


def _retrying(func: Callable, *, request_at: int) -> Callable:
    @functools.wraps(func)
    def attempts(*args: Any, **kwargs: Any) -> HttpResponse:
        request: HttpRequest = args[request_at]
        # Read the body now: a parser that streamed it could not read it again for a retry. (A
        # form already parsed from the stream, e.g. by the CSRF check, is kept by Django.)
        with contextlib.suppress(RawPostDataException):
            request.body  # noqa: B018 - read for its side effect (Django keeps it)
        for attempt, pause in enumerate((*BACKOFF_SECONDS, None)):
            try:
                return func(*args, **kwargs)
            except DATABASE_DOWN as error:
                if pause is None or transaction.get_connection().in_atomic_block:
                    raise  # the middleware answers 503; an enclosing transaction is its owner's
                logger.warning(
                    "database unavailable on %s %s (attempt %d, retrying): %s",
                    request.method,
                    request.path,
                    attempt + 1,
                    error,
                )
                _reset_connection()
                time.sleep(pause)
        raise AssertionError("not reached: the last attempt returns or raises")

    return attempts


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
    """A view that failed because the database went away is answered 503 (with Retry-After and a
    message that says nothing was saved), never 500. Views marked `safe_to_retry` have already
    tried again by then."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN):
            return None
        logger.warning("database unavailable on %s %s: %s", request.method, request.path, exception)
        _reset_connection()
        return unavailable(request)
