"""Every route, every persona, the other client's ids: nothing foreign is read or written.

The routes are enumerated from the URL resolver, so a new page is checked the day it is added;
a route the matrix cannot classify fails the test until someone decides how it must behave.
"""

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from rest_framework.authentication import SessionAuthentication

from annotations.models import Annotation, Assignment, Skip
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from labelhub.audit import audit_record
from labelhub.models import AuditEvent, Domain, User
from projects.models import Client as Tenant
from projects.models import Guideline, GuidelineView, Item, Membership, Project, Response
from projects.services import guideline_publish, membership_grant
from quality.models import QualificationAttempt
from tests.factories import ClientFactory, DomainFactory, ItemFactory, ProjectFactory, UserFactory

Role = Membership.Role
QualityStatus = Membership.QualityStatus
ROLES = (Role.EXPERT, Role.REVIEWER, Role.MANAGER, Role.VIEWER)


@dataclass
class World:
    """One client's corner: a project with data in every table, and one member per role."""

    tag: str
    client: Tenant
    project: Project
    item: Item
    members: dict[str, User]
    objects: dict[type[models.Model], models.Model]

    domain: str

    @property
    def secrets(self) -> list[str]:
        usernames = [user.username for user in self.members.values()]
        return [
            self.client.name,
            self.project.name,
            self.project.slug,
            f"{self.tag}-SECRET",
            self.domain,
            *usernames,
        ]


def build_world(tag: str, staff: User) -> World:
    client = ClientFactory(name=f"{tag.title()} Corp", slug=tag)
    project = ProjectFactory(
        client=client,
        slug=f"{tag}-project",
        name=f"{tag.title()} private project",
        codename=f"{tag.title()}Code",
        labels_per_item=2,
    )
    guideline = guideline_publish(project=project, body=f"{tag}-SECRET guideline", author=staff)
    # The client's field: which domains a client works in is its own business.
    domain = DomainFactory(slug=f"{tag}-secretfield", name=f"{tag.title()} secret field").slug
    items = [
        ItemFactory(
            project=project,
            domain=domain,
            external_id=f"{tag}-SECRET-{n}",
            prompt=f"{tag}-SECRET prompt {n}",
            responses=[(f"{tag}-SECRET a{n}", "m1"), (f"{tag}-SECRET b{n}", "m2")],
        )
        for n in range(3)
    ]
    members = {}
    for role in ROLES:
        # Only the expert is in the pool of vetted experts; the others are the client's or ours.
        profile = {} if role == Role.EXPERT else {"expert_profile": None}
        members[role] = UserFactory(username=f"{tag}-{role}", **profile)
        membership_grant(project=project, user=members[role], role=role, granted_by=staff)
    expert = members[Role.EXPERT]
    expert.expert_profile.domains.add(Domain.objects.get(slug=domain))
    annotation = annotation_submit(
        assignment=assignment_next(project=project, expert=expert),
        expert=expert,
        judgment=Judgment("A", 1, f"{tag}-SECRET rationale"),
        idempotency_key=uuid.uuid4(),
    ).annotation
    skip = assignment_skip(
        assignment=assignment_next(project=project, expert=expert),
        expert=expert,
        reason="other",
        note=f"{tag}-SECRET note",
    )
    live = assignment_next(project=project, expert=expert)
    # Held back by the quality controls after a qualification, so that a manager's action on them
    # (reinstate, retake) would change their membership if it crossed the firewall.
    Membership.objects.filter(project=project, user=expert).update(quality_status=QualityStatus.FAILED)
    attempt = QualificationAttempt.objects.create(
        project=project,
        expert=expert,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        answered=3,
        correct=1,
        required=3,
        pass_percent=80,
        passed=False,
    )
    view = GuidelineView.objects.create(guideline=guideline, viewer=expert)
    event = audit_record(action="guideline_viewed", actor=expert, project=project, target=f"{tag}-SECRET")
    objects = {
        Tenant: client,
        Project: project,
        Item: items[0],
        Response: items[0].responses.first(),
        Guideline: guideline,
        GuidelineView: view,
        Membership: Membership.objects.get(user=expert),
        Annotation: annotation,
        Skip: skip,
        Assignment: live,
        AuditEvent: event,
        QualificationAttempt: attempt,
        User: expert,
    }
    return World(tag, client, project, items[0], members, objects, domain)


def snapshot(world: World) -> str:
    """A digest of every row that belongs to the world's project: any write changes it."""
    project = world.project
    rows = {
        "project": list(Project.objects.filter(pk=project.pk).values()),
        "items": list(Item.objects.filter(project=project).order_by("pk").values()),
        "responses": list(Response.objects.filter(item__project=project).order_by("pk").values()),
        "guidelines": list(Guideline.objects.filter(project=project).order_by("pk").values()),
        "memberships": list(Membership.objects.filter(project=project).order_by("pk").values()),
        "assignments": list(Assignment.objects.filter(project=project).order_by("pk").values()),
        "annotations": list(Annotation.objects.filter(project=project).order_by("pk").values()),
        "skips": list(Skip.objects.filter(project=project).order_by("pk").values()),
        "attempts": list(QualificationAttempt.objects.filter(project=project).order_by("pk").values()),
        "client": list(Tenant.objects.filter(pk=world.client.pk).values()),
        "competitors": list(world.client.competitors.values_list("pk", flat=True)),
        "members": list(
            User.objects.filter(pk__in=[u.pk for u in world.members.values()]).order_by("pk").values()
        ),
    }
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


# --- the routes ---


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or the raw pattern for unnamed ones
    kwargs: tuple[str, ...]


def walk(patterns: list, namespace: str = "", prefix: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            yield from walk(entry.url_patterns, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield Route(name or prefix + str(entry.pattern), tuple(entry.pattern.regex.groupindex))


ADMIN_OBJECT_VIEWS = ("_change", "_delete", "_history")
ADMIN_LIST_VIEWS = ("_changelist", "_add")
# Routes with no project in them: they must work for everyone and show nothing foreign.
OPEN_ROUTES = {
    "login",
    "logout",
    "annotations:home",
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:autocomplete",
    "tokens",
    "token-create",
    "token-revoke",
    "api-schema",
    "api-docs",
    "projects:api-list",
    "costs:my-work",
}


def admin_model(name: str):
    for model in admin.site._registry:
        key = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        if name.startswith(key + "_"):
            return model
    return None


@dataclass(frozen=True)
class Request:
    url: str
    # "project" | "token_only" | "admin_object" | "admin_absent" | "admin_list" | "redirect" | "open"
    kind: str


def requests_for(route: Route, foreign: World) -> Request:
    """How to call `route` aiming at `foreign`'s data, and what kind of route it is."""
    name = route.name
    if name.startswith(("annotations:", "quality:", "costs:")) and "code" in route.kwargs:
        kwargs = {"code": foreign.project.code}
        if "assignment_id" in route.kwargs:
            kwargs["assignment_id"] = foreign.objects[Assignment].pk
        if "user_id" in route.kwargs:  # a manager's action on one of the project's experts
            kwargs["user_id"] = foreign.members[Role.EXPERT].pk
        if "chart" in route.kwargs:  # a chart's download: one of the charts its page shows
            kwargs["chart"] = "labels-per-day" if name.startswith("annotations:") else "gold-accuracy"
        return Request(reverse(name, kwargs=kwargs), "project")
    if "slug" in route.kwargs and name.startswith(
        ("annotations:api-", "projects:api-", "quality:api-", "costs:api-")
    ):
        # The ML engineers' API names projects by their internal slug.
        url = reverse(name, kwargs={"slug": foreign.project.slug})
        return Request(url, "project" if takes_session(url) else "token_only")
    if name in OPEN_ROUTES:
        return Request(reverse(name), "open")
    if name == "admin:app_list":
        return Request(reverse(name, kwargs={"app_label": "projects"}), "admin_list")
    if name == "admin:projects_item_import":  # a form; the project comes in the POST body
        return Request(reverse(name), "admin_list")
    if name == "admin:view_on_site":
        obj = foreign.objects[Project]
        return Request(reverse(name, args=[_content_type(Project), obj.pk]), "admin_object")
    if name == "admin:auth_user_password_change":  # Django names it so whatever the user model
        return Request(reverse(name, args=[foreign.members[Role.EXPERT].pk]), "admin_object")
    model = admin_model(name)
    if model is not None and name.endswith(ADMIN_LIST_VIEWS):
        return Request(reverse(name), "admin_list")
    if model is not None and name.endswith(ADMIN_OBJECT_VIEWS):
        obj = foreign.objects.get(model)
        if obj is None:  # a site-wide model with no foreign row: aim at an id that does not exist
            return Request(reverse(name, args=[987654]), "admin_absent")
        return Request(reverse(name, args=[obj.pk]), "admin_object")
    if name.startswith("admin/") and route.kwargs == ("url",):  # the admin's catch-all
        return Request(f"/admin/no-such-app/{foreign.item.pk}/", "admin_absent")
    if name.startswith("admin/") and name.endswith("/<path:object_id>/"):
        # The admin's bare <id>/ only redirects to the change view (itself checked above).
        app_label, model_name = name.split("/")[1:3]
        model = apps.get_model(app_label, model_name)
        obj = foreign.objects.get(model)
        return Request(f"/admin/{app_label}/{model_name}/{obj.pk if obj else 987654}/", "redirect")
    raise AssertionError(
        f"route {name!r} {route.kwargs} is not in the firewall matrix: say how it must behave"
    )


def takes_session(url: str) -> bool:
    """Whether the view at `url` accepts a logged-in session (the matrix's personas), not only tokens."""
    view_class = getattr(resolve(url).func, "cls", None)
    authenticators = getattr(view_class, "authentication_classes", [SessionAuthentication])
    return any(issubclass(authenticator, SessionAuthentication) for authenticator in authenticators)


def _content_type(model) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(model).pk


@pytest.fixture(scope="module")
def worlds(django_db_setup, django_db_blocker) -> Iterator[dict]:
    """Both worlds, built once for the module (like setUpTestData) and rolled back after it.

    Each test still runs in its own transaction inside this one, so whatever a test writes is
    undone before the next.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            staff = UserFactory(username="root", is_staff=True, is_superuser=True)
            acme, globex = build_world("acme", staff), build_world("globex", staff)
            acme.client.competitors.add(globex.client)
            yield {"acme": acme, "globex": globex, "staff": staff}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def problems_with(
    response, request: Request, persona: str, foreign: World, may_administer: bool
) -> list[str]:
    """What is wrong with `persona`'s answer to `request`, aimed at `foreign`'s data."""
    where = f"{persona} {response.request['REQUEST_METHOD']} {request.kind} {request.url}"
    status = response.status_code
    if status >= 500:
        return [f"{where}: {status}"]
    body = b"" if getattr(response, "streaming", False) else response.content
    text = body.decode(errors="replace")
    problems = [f"{where} shows {secret!r}" for secret in foreign.secrets if secret in text]
    if persona == "anonymous":
        # 401 is the API's answer to a request without credentials.
        expected = status in (302, 401, 403, 404, 405) or request.kind == "open"
    elif request.kind == "project":
        expected = status in (404, 405)
    elif request.kind == "token_only":  # to a session the same answer for every project
        expected = status == 401
    elif request.kind == "admin_object":
        expected = status in ((404, 403, 405) if may_administer else (302, 404))
    elif request.kind == "admin_absent":
        expected = status in (302, 403, 404, 405)
    elif request.kind == "redirect":
        location = response.get("Location", "")
        expected = status in (301, 302) and (
            location.endswith("/change/") or location.startswith("/admin/login/")
        )
    elif request.kind == "admin_list" and not may_administer:
        expected = status == 302 and "/admin/login/" in response["Location"]
    else:
        expected = True
    return problems if expected else [*problems, f"{where}: unexpected {status}"]


PERSONAS = ["anonymous", *ROLES]
POST_DATA = {
    "choice": "A",
    "strength": "1",
    "reason": "other",
    "format": "pairs",
    "role": "manager",
    "body": "overwritten",
    "action": "delete_selected",
    "post": "yes",
}


# Collected once, at import: each route is a test of its own, so one failure hides no other.
ROUTES = list(walk(get_resolver().url_patterns))


def test_the_matrix_says_how_every_route_must_behave(db, worlds):
    assert len(ROUTES) > 40  # the admin's routes are in
    for route in ROUTES:
        requests_for(route, worlds["globex"])  # raises for a route the matrix cannot classify


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_no_persona_reads_or_writes_the_other_clients_data(db, worlds, route):
    problems = []
    for home, away in (("acme", "globex"), ("globex", "acme")):
        foreign = worlds[away]
        request = requests_for(route, foreign)
        for role in PERSONAS:
            before = snapshot(foreign)
            client = Client()
            persona = "anonymous" if role == "anonymous" else f"{home}-{role}"
            if role != "anonymous":
                client.force_login(worlds[home].members[role])
            may_administer = role in (Role.MANAGER, Role.REVIEWER)
            data = {
                **POST_DATA,
                "project": foreign.project.pk,
                "username": persona,
                "_selected_action": [foreign.item.pk],
                "idempotency_key": str(uuid.uuid4()),
            }
            for response in (client.get(request.url), client.post(request.url, data)):
                problems += problems_with(response, request, persona, foreign, may_administer)
            if snapshot(foreign) != before:
                problems.append(f"{persona} changed {away}'s data through {request.url}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_staff_reach_every_route_without_a_server_error(db, worlds, route):
    client = Client()
    client.force_login(worlds["staff"])
    request = requests_for(route, worlds["globex"])
    if not request.url.endswith("/logout/"):
        assert client.get(request.url).status_code < 500, request.url
