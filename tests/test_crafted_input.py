"""Crafted input, as an attacker would send it: a clear 400, 404 or 409 and nothing changed,
never a 500 (whose debug page could show someone else's data).

Each route is a case of its own, so that one failure does not hide the others.
"""

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, resolve, reverse
from rest_framework.test import APIClient

from annotations.models import (
    Annotation,
    Assignment,
    Skip,
)
from annotations.services import assignment_next
from labelhub.fastjson import MAX_DEPTH
from projects.importing import parse_items
from projects.models import Item, Project

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


# --- deeply nested JSON ---


def labelling_calls(project: Project, annotator) -> dict[str, str]:
    assignment = assignment_next(project=project, expert=annotator)
    return {
        "next": next_url(project),
        "submit": submit_url(project, assignment.pk),
        "heartbeat": heartbeat_url(project, assignment.pk),
    }


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100_000])
@pytest.mark.parametrize("call", ["next", "submit", "heartbeat"])
def test_a_deeply_nested_body_to_the_labelling_api_is_a_400_that_says_so(
    acme, acme_items, annotator, call, levels
):
    url = labelling_calls(acme, annotator)[call]
    before = Assignment.objects.values_list("pk", "status", "expires_at").get()
    response = api(annotator).post(url, nested(levels), content_type="application/json")
    assert response.status_code == 400
    assert f"nested more than {MAX_DEPTH} levels deep" in response.json()["detail"]
    assert Assignment.objects.values_list("pk", "status", "expires_at").get() == before
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100_000])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", lambda levels: nested(levels)),
        ("application/json", lambda levels: f"[{nested(levels)}]"),
        ("application/jsonl", lambda levels: nested(levels)),
        ("application/jsonl", lambda levels: '{"id": "x", "metadata": {"a": ' + nested(levels) + "}}"),
    ],
)
def test_a_deeply_nested_items_import_is_a_400_that_says_so(acme, manager, content_type, body, levels):
    url = reverse("projects:api-items", args=[acme.slug])
    response = api(manager).post(url, body(levels), content_type=content_type)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error.startswith("line 1: ") and f"nested more than {MAX_DEPTH} levels deep" in error
    assert not Item.objects.exists()


def test_an_item_file_nested_too_deeply_is_reported_on_its_line():
    good = json.dumps({"id": "q1", "prompt": "2 + 2?", "responses": [{"content": "4"}, {"content": "5"}]})
    deep = '{"id": "q2", "prompt": "?", "responses": [], "metadata": {"x": ' + nested(100_000) + "}}"
    parsed = parse_items(f"{good}\n{deep}\n{nested(2_000)}\n".encode(), fmt="jsonl")
    assert [item.external_id for item in parsed.items] == ["q1"]
    assert [(error.line, error.message) for error in parsed.errors] == [
        (2, f"invalid JSON: it is nested more than {MAX_DEPTH} levels deep"),
        (3, f"invalid JSON: it is nested more than {MAX_DEPTH} levels deep"),
    ]


def test_a_deeply_nested_admin_upload_is_reported_not_a_500(client, acme, manager, settings, tmp_path):
    settings.ITEM_IMPORT_DIR = tmp_path / "imports"
    client.force_login(manager)
    upload = SimpleUploadedFile("items.jsonl", nested(100_000).encode())
    response = client.post("/admin/projects/item/import/", {"project": acme.pk, "file": upload})
    assert response.status_code == 200
    assert f"nested more than {MAX_DEPTH} levels deep" in response.content.decode()
    assert not Item.objects.exists()


# --- the heartbeat takes no fields ---


@pytest.mark.parametrize("body", [{"expires_at": "2100-01-01T00:00:00Z"}, {"expert": 1, "minutes": 600}])
def test_the_heartbeat_refuses_fields_naming_them(acme, acme_items, annotator, body):
    assignment = assignment_next(project=acme, expert=annotator)
    response = api(annotator).post(heartbeat_url(acme, assignment.pk), body, format="json")
    assert response.status_code == 400
    assert sorted(response.json()) == sorted(body)
    assert Assignment.objects.get(pk=assignment.pk).expires_at == assignment.expires_at


def test_the_heartbeat_refuses_a_body_that_is_not_an_object(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    response = api(annotator).post(heartbeat_url(acme, assignment.pk), [1, 2], format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()
