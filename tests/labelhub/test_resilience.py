"""When the database drops mid-request: retry what is safe, answer 503 (never 500) otherwise.

These run outside a test transaction (transactional_db): inside one, a lost connection would
lose the test's own transaction, and the middleware rightly leaves that to its owner.
"""

import uuid

import pytest
from django.db.utils import OperationalError
from django.urls import reverse

from annotations import services
from annotations.models import Annotation, Draft
from labelhub import resilience
from projects.models import Membership
from tests.conftest import api_for, member
from tests.factories import ItemFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(resilience.time, "sleep", lambda seconds: None)


@pytest.fixture
def setup():
    project = ProjectFactory()
    ItemFactory(project=project)
    return project, member(project, "resilient-expert", Membership.Role.EXPERT)


def flaky(monkeypatch, target, name, failures):
    """Make `target.name` raise OperationalError `failures` times, then behave."""
    real = getattr(target, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return calls


def test_a_page_is_served_after_the_database_comes_back(client, monkeypatch, setup):
    project, expert = setup
    client.force_login(expert)
    calls = flaky(monkeypatch, services, "assignment_next", failures=2)
    response = client.get(reverse("annotations:label", args=[project.code]))
    assert response.status_code == 200 and calls["n"] == 3


def test_a_database_that_stays_away_gets_a_503_that_says_nothing_was_saved(client, monkeypatch, setup):
    project, expert = setup
    client.force_login(expert)
    flaky(monkeypatch, services, "assignment_next", failures=99)
    response = client.get(reverse("annotations:label", args=[project.code]))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "Nothing was saved" in response.content.decode()
    api = api_for(expert).post(
        reverse("annotations:api-next", kwargs={"code": project.code}), {}, format="json"
    )
    assert api.status_code == 503 and "Nothing was saved" in api.json()["detail"]


def test_a_submission_is_retried_once_the_database_is_back_and_stored_once(client, monkeypatch, setup):
    project, expert = setup
    client.force_login(expert)
    assignment = services.assignment_next(project=project, expert=expert)
    calls = flaky(monkeypatch, services, "annotation_submit", failures=1)
    response = client.post(
        reverse("annotations:submit", args=[project.code, assignment.pk]),
        {"choice": "A", "strength": "2", "rationale": "", "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code == 302 and calls["n"] == 2
    assert Annotation.objects.filter(assignment=assignment).count() == 1


def test_a_write_that_is_not_safe_to_repeat_is_not_retried(client, monkeypatch, setup):
    from labelhub import views

    _, expert = setup
    client.force_login(expert)
    calls = flaky(monkeypatch, views, "api_token_create", failures=99)
    response = client.post(reverse("token-create"))
    assert response.status_code == 503 and calls["n"] == 1


def test_an_api_submission_is_retried_with_its_body_and_stored_once(monkeypatch, setup):
    project, expert = setup
    assignment = services.assignment_next(project=project, expert=expert)
    calls = flaky(monkeypatch, services, "annotation_submit", failures=1)
    response = api_for(expert).post(
        reverse("annotations:api-submit", kwargs={"code": project.code, "assignment_id": assignment.pk}),
        {"choice": "A", "strength": 2, "idempotency_key": str(uuid.uuid4())},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert calls["n"] == 2
    assert Annotation.objects.filter(assignment=assignment).count() == 1


class SeenByLaterMiddleware:
    """A middleware after the resilience one: it must see every view, retried ones included."""

    seen: list[str] = []

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        self.seen.append(request.path)


def test_a_retried_view_still_passes_through_every_middleware_and_runs_inside_the_request(
    client, monkeypatch, settings, setup
):
    project, expert = setup
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.SeenByLaterMiddleware"]
    SeenByLaterMiddleware.seen = []
    client.force_login(expert)
    calls = flaky(monkeypatch, services, "assignment_next", failures=1)
    url = reverse("annotations:label", args=[project.code])
    assert client.get(url).status_code == 200 and calls["n"] == 2
    assert SeenByLaterMiddleware.seen == [url]


def test_a_form_the_csrf_check_has_already_read_is_retried_with_its_fields(monkeypatch, setup):
    from django.test import Client

    project, expert = setup
    assignment = services.assignment_next(project=project, expert=expert)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(expert)
    browser.get(reverse("annotations:label", args=[project.code]))
    token = browser.cookies["csrftoken"].value
    calls = flaky(monkeypatch, services, "draft_save", failures=1)
    response = browser.post(
        reverse("annotations:draft", args=[project.code, assignment.pk]),
        {"csrfmiddlewaretoken": token, "rationale": "half a thought"},
    )
    assert response.status_code == 200, response.content
    assert calls["n"] == 2
    assert Draft.objects.get(assignment=assignment).fields["rationale"] == ["half a thought"]
