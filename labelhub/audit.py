"""Writing the audit trail. The one function every part of the app calls to record an event."""

import ipaddress
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from labelhub.models import AuditEvent, User

Action = AuditEvent.Action


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address, as DRF's throttles tell it: the connection's own, or behind
    NUM_PROXIES trusted proxies the one they saw. The audit trail and django-axes's login
    lock-outs use it too, so all three agree on who a client is."""
    if request is None:
        return None
    ident = BaseThrottle().get_ident(request)
    try:
        return str(ipaddress.ip_address(ident or ""))
    except ValueError:  # a proxy that did not append an address left the client's text there
        return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    actor_name: str = "",
    project: Model | None = None,  # a projects.Project: the core names no app above it
    target: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_name=actor_name or (actor.get_username() if actor else ""),
        project_id=project.pk if project is not None else None,
        target=target[:255],
        detail=detail or {},
        ip_address=client_ip(request),
    )


def on_login(sender: object, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit_record(action=Action.LOGIN, actor=user, request=request)


def on_login_failed(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already masked the password in `credentials`; only the username is kept.
    audit_record(
        action=Action.LOGIN_FAILED, actor_name=str(credentials.get("username", ""))[:150], request=request
    )


def on_logout(sender: object, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action=Action.LOGOUT, actor=user, request=request)
