"""Rate limits that hold: a client is told by an address it cannot make up, the labelling pages
count against the API's per-user rate, and reloading the label page adds no audit rows."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from annotations.models import Annotation, Assignment, Draft, Skip
from annotations.services import assignment_next
from labelhub.models import AuditEvent
from projects.models import GuidelineView
from tests.conftest import api_for
from tests.factories import UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
ROOT = Path(__file__).resolve().parents[1]
PROXY = "10.0.0.1"  # the one proxy in front of the app, as the app sees it


@pytest.fixture
def tight_rates(monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})


@pytest.fixture
def one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def schema_status(forwarded_for: str) -> int:
    return APIClient().get(reverse("api-schema"), HTTP_X_FORWARDED_FOR=forwarded_for).status_code


# --- who a client is ---


def test_an_anonymous_caller_cannot_dodge_the_rate_by_making_up_x_forwarded_for(db, tight_rates):
    statuses = [schema_status(f"198.51.100.{n}") for n in range(4)]
    assert statuses == [200, 200, 200, 429]


def settings_with(num_proxies: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUM_PROXIES"}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    if num_proxies is not None:
        env["NUM_PROXIES"] = num_proxies
    probe = "import django; django.setup(); from rest_framework.settings import api_settings; "
    probe += "print(api_settings.NUM_PROXIES)"
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_number_of_trusted_proxies_comes_from_the_environment_and_is_none_by_default():
    assert settings_with(None).stdout.strip() == "0"
    assert settings_with("2").stdout.strip() == "2"
    refused = settings_with("-1")
    assert refused.returncode != 0 and "NUM_PROXIES must be 0 or more, got -1." in refused.stderr


def login(forwarded_for: str, username: str, password: str):
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_lock_outs_and_the_audit_trail_tell_clients_apart_as_the_rate_limits_do(
    settings, tight_rates, one_proxy, db
):
    # The proxy appends the address it saw; everything before it is the client's to invent.
    statuses = [schema_status(f"192.0.2.{n}, 203.0.113.5") for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert schema_status("203.0.113.6") == 200  # another client behind the same proxy

    UserFactory(username="alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login("192.0.2.1, 203.0.113.5", "alice", "guess")
    assert login("203.0.113.5", "alice", "pw-for-tests").status_code == 429
    # The same account from another client behind the same proxy is not locked out.
    assert login("203.0.113.6", "alice", "pw-for-tests").status_code == 302
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED)
    assert set(failed.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    assert AuditEvent.objects.get(action=AuditEvent.Action.LOGIN).ip_address == "203.0.113.6"


# --- the labelling pages ---


@pytest.fixture
def held(acme, acme_items, annotator) -> Assignment:
    return assignment_next(project=acme, expert=annotator)


def label_requests(acme, held) -> dict:
    """Each labelling endpoint, as a valid request of the page would call it."""
    args = [acme.code, held.pk]
    judgment = {"choice": "A", "strength": "2", "rationale": "", "idempotency_key": str(uuid.uuid4())}
    return {
        "label": ("get", reverse("annotations:label", args=[acme.code]), {}),
        "submit": ("post", reverse("annotations:submit", args=args), judgment),
        "skip": ("post", reverse("annotations:skip", args=args), {"reason": "unsure"}),
        "heartbeat": ("post", reverse("annotations:heartbeat", args=args), {}),
        "draft": ("post", reverse("annotations:draft", args=args), {"rationale": "so far"}),
    }


def use_up_the_rate_through_the_api(annotator, acme) -> None:
    api = api_for(annotator)
    for _ in range(3):
        assert (
            api.post(reverse("annotations:api-next", args=[acme.code]), {}, format="json").status_code == 200
        )


@pytest.mark.parametrize("name", ["label", "submit", "skip", "heartbeat", "draft"])
def test_past_the_users_rate_each_labelling_endpoint_answers_429_and_does_nothing(
    client, acme, annotator, held, tight_rates, name
):
    client.force_login(annotator)
    use_up_the_rate_through_the_api(annotator, acme)  # one budget per person, API and pages alike
    method, url, data = label_requests(acme, held)[name]
    response = getattr(client, method)(url, data)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    text = response.json()["error"] if name in ("heartbeat", "draft") else response.content.decode()
    assert "Too many requests in a short time" in text
    held_before = held.expires_at
    held.refresh_from_db()
    assert (held.status, held.expires_at) == (Assignment.Status.ACTIVE, held_before)
    assert not Annotation.objects.exists() and not Skip.objects.exists() and not Draft.objects.exists()
    assert not GuidelineView.objects.exists()


def test_an_htmx_submit_past_the_rate_gets_the_message_alone_so_the_form_stays(
    client, acme, annotator, held, tight_rates
):
    client.force_login(annotator)
    use_up_the_rate_through_the_api(annotator, acme)
    _, url, data = label_requests(acme, held)["submit"]
    response = client.post(url, data, **HTMX)
    assert response.status_code == 429
    body = response.content.decode()
    assert 'data-testid="too-many-requests"' in body and "<html" not in body


# --- the label page's audit rows ---


def guideline_views() -> tuple[int, int]:
    viewed = AuditEvent.objects.filter(action=AuditEvent.Action.GUIDELINE_VIEWED).count()
    return GuidelineView.objects.count(), viewed


def test_reloading_the_label_page_records_one_guideline_view_per_lease(client, acme, acme_items, annotator):
    client.force_login(annotator)
    label = reverse("annotations:label", args=[acme.code])
    pages = [client.get(label) for _ in range(3)]
    assert all(page.status_code == 200 for page in pages)
    assert guideline_views() == (1, 1)
    assert len({page.context["shown"].html for page in pages}) == 1  # one fingerprint, one reader

    held = Assignment.objects.get(expert=annotator, status=Assignment.Status.ACTIVE)
    judgment = {"choice": "A", "strength": "2", "rationale": "", "idempotency_key": str(uuid.uuid4())}
    client.post(reverse("annotations:submit", args=[acme.code, held.pk]), judgment)
    client.get(label)
    client.get(label)
    assert guideline_views() == (2, 2)  # the next item is a new lease: shown anew, once


def test_with_nothing_left_reloading_records_one_guideline_view_per_lease_length(client, acme, annotator):
    client.force_login(annotator)
    label = reverse("annotations:label", args=[acme.code])
    for _ in range(3):
        assert "All done" in client.get(label).content.decode()
    assert guideline_views() == (1, 1)


def test_a_submit_retried_after_the_database_dropped_counts_once_against_the_rate(
    transactional_db, client, acme, annotator, held, tight_rates, monkeypatch
):
    # Outside a test transaction: within one a lost connection is the transaction's owner's.
    from django.db.utils import OperationalError

    from annotations import services
    from labelhub import resilience

    monkeypatch.setattr(resilience.time, "sleep", lambda seconds: None)
    api = api_for(annotator)
    for _ in range(2):  # two of the three requests a minute are used
        assert (
            api.post(reverse("annotations:api-next", args=[acme.code]), {}, format="json").status_code == 200
        )
    real, calls = services.annotation_submit, {"n": 0}

    def drops_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "annotation_submit", drops_once)
    client.force_login(annotator)
    _, url, data = label_requests(acme, held)["submit"]
    response = client.post(url, data)
    assert response.status_code == 302 and calls["n"] == 2  # the third request, retried, not a fourth
    assert Annotation.objects.filter(assignment=held).count() == 1


def test_an_api_call_retried_after_the_database_dropped_counts_once_against_the_rate(
    transactional_db, acme, annotator, held, tight_rates, monkeypatch
):
    from django.db.utils import OperationalError

    from annotations import services
    from labelhub import resilience

    monkeypatch.setattr(resilience.time, "sleep", lambda seconds: None)
    real, calls = services.assignment_next, {"n": 0}

    def drops_twice(**kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, "assignment_next", drops_twice)
    api = api_for(annotator)
    url = reverse("annotations:api-next", args=[acme.code])
    assert api.post(url, {}, format="json").status_code == 200 and calls["n"] == 3
    monkeypatch.setattr(services, "assignment_next", real)
    # Three a minute: the retried call was one of them, so two more are allowed, then no more.
    assert [api.post(url, {}, format="json").status_code for _ in range(3)] == [200, 200, 429]
