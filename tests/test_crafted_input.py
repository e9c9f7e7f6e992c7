"""Crafted input, as an attacker would send it: a clear 400, 404 or 409 and nothing changed,
never a 500 (whose debug page could show someone else's data).

Each route is a case of its own, so that one failure does not hide the others.
"""

import uuid

import pytest
from django.urls import Resolver404, resolve, reverse
from rest_framework.test import APIClient

from annotations.models import (
    Annotation,
    Skip,
)
from annotations.services import assignment_next
from projects.models import Project

HTMX = {"HTTP_HX_REQUEST": "true"}
# Past the largest id a BIGINT primary key can hold (2**63 - 1), and far past it.
OUT_OF_RANGE = [2**63, 10**40]
LARGEST_ID = 2**63 - 1

# The routes that name an assignment by id: (URL name, whether it is the API's).
ASSIGNMENT_ROUTES = [
    ("annotations:submit", False),
    ("annotations:skip", False),
    ("annotations:heartbeat", False),
    ("annotations:draft", False),
    ("annotations:api-submit", True),
    ("annotations:api-heartbeat", True),
]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def next_url(project: Project) -> str:
    return reverse("annotations:api-next", args=[project.code])


def submit_url(project: Project, assignment_id: int) -> str:
    return reverse("annotations:api-submit", args=[project.code, assignment_id])


def heartbeat_url(project: Project, assignment_id: int) -> str:
    return reverse("annotations:api-heartbeat", args=[project.code, assignment_id])


def judgment_body(key: uuid.UUID | str, **extra) -> dict:
    return {
        "choice": "B",
        "strength": 2,
        "rationale": "B cites the source.",
        "idempotency_key": str(key),
        **extra,
    }


# --- ids past the database's range ---


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize(("name", "is_api"), ASSIGNMENT_ROUTES)
def test_an_assignment_id_past_the_databases_range_matches_no_route(acme, name, is_api, number):
    assert resolve(reverse(name, args=[acme.code, LARGEST_ID])).kwargs["assignment_id"] == LARGEST_ID
    with pytest.raises(Resolver404):
        resolve(reverse(name, args=[acme.code, number]))


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize(("name", "is_api"), ASSIGNMENT_ROUTES)
# On SQLite these were 500s: the driver refuses integers past 64 bits with an OverflowError.
def test_an_assignment_id_past_the_databases_range_is_a_404_not_a_500(
    client, acme, acme_items, annotator, name, is_api, number
):
    assignment_next(project=acme, expert=annotator)
    url = reverse(name, args=[acme.code, number])
    if is_api:
        response = api(annotator).post(url, {}, format="json")
    else:
        client.force_login(annotator)
        response = client.post(url, {"reason": "other"})
    assert response.status_code == 404
    assert not Annotation.objects.exists() and not Skip.objects.exists()
