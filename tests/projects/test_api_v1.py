"""The ML engineers' API for projects: token auth, the project list, item imports, throttling."""

import json

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from projects.models import Item, Membership, Project
from tests.conftest import api_for, member


def items_url(project: Project) -> str:
    return reverse("projects:api-items", args=[project.slug])


def item(external_id: str, prompt: str = "Which is right?") -> dict:
    return {"id": external_id, "prompt": prompt, "responses": [{"content": "4"}, {"content": "5"}]}


def jsonl(*objects: object) -> str:
    return "\n".join(json.dumps(obj) for obj in objects) + "\n"


def test_a_token_authenticates_and_a_revoked_token_is_refused(manager, acme):
    client = api_for(manager)
    assert client.get(reverse("projects:api-list")).status_code == 200
    Token.objects.filter(user=manager).delete()
    assert client.get(reverse("projects:api-list")).status_code == 401


def test_it_requires_authentication(db):
    response = APIClient().get(reverse("projects:api-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_the_list_shows_only_visible_projects_with_the_client_for_managers(manager, acme, globex):
    rows = api_for(manager).get(reverse("projects:api-list")).json()
    assert rows == [
        {
            "codename": "Aurora",
            "code": acme.code,
            "slug": "acme-helpfulness",
            "name": "Acme helpfulness",
            "client": "Acme Labs",
            "kind": acme.kind,
            "status": acme.status,
        }
    ]


def test_experts_see_only_codename_and_code(annotator, acme, globex):
    response = api_for(annotator).get(reverse("projects:api-list"))
    assert response.json() == [{"codename": "Aurora", "code": acme.code}]
    text = response.content.decode()
    assert "Acme" not in text and acme.slug not in text and "Borealis" not in text


def test_an_outsider_sees_no_projects(outsider, acme, globex):
    assert api_for(outsider).get(reverse("projects:api-list")).json() == []


def test_a_manager_imports_a_json_list(manager, acme):
    response = api_for(manager).post(items_url(acme), [item("q1"), item("q2")], format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert set(Item.objects.filter(project=acme).values_list("external_id", flat=True)) == {"q1", "q2"}


def test_a_manager_imports_jsonl_and_a_repeat_is_unchanged(manager, acme):
    client = api_for(manager)
    body = jsonl(item("q1"), item("q2"))
    first = client.post(items_url(acme), body, content_type="application/jsonl")
    assert first.status_code == 201 and first.json()["created"] == 2
    again = client.post(items_url(acme), body, content_type="text/plain")
    assert again.status_code == 201 and again.json() == {"created": 0, "updated": 0, "unchanged": 2}


def test_one_bad_line_stores_nothing_and_every_error_is_named_by_line(manager, acme):
    bad = [item("q1"), {"id": "q2", "prompt": "p"}, item("q1")]
    response = api_for(manager).post(items_url(acme), bad, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == 2
    assert errors[0].startswith("line 2: ") and errors[1].startswith("line 3: duplicate id 'q1'")
    assert not Item.objects.filter(project=acme).exists()


def test_changed_content_needs_update_and_then_replaces_the_item(manager, acme):
    client = api_for(manager)
    client.post(items_url(acme), [item("q1")], format="json")
    changed = [item("q1", prompt="Reworded")]
    refused = client.post(items_url(acme), changed, format="json")
    # Well formed, but in conflict with the stored item.
    assert refused.status_code == 409 and refused.json()["errors"][0].startswith("line 1: item 'q1'")
    accepted = client.post(items_url(acme) + "?update=true", changed, format="json")
    assert accepted.status_code == 201 and accepted.json()["updated"] == 1
    assert Item.objects.get(project=acme, external_id="q1").prompt == "Reworded"


def test_a_body_that_is_not_a_list_is_refused(manager, acme):
    client = api_for(manager)
    response = client.post(items_url(acme), item("q1"), format="json")
    assert response.status_code == 400 and "JSON list" in response.json()["errors"][0]
    broken = client.post(items_url(acme), "[{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["errors"][0].startswith("line 1: ")


def test_viewers_may_not_import(viewer, acme):
    response = api_for(viewer).post(items_url(acme), [item("q1")], format="json")
    assert response.status_code == 403
    assert not Item.objects.filter(project=acme).exists()


def test_experts_get_404_for_a_slug_so_probing_slugs_tells_them_nothing(annotator, acme):
    response = api_for(annotator).post(items_url(acme), [item("q1")], format="json")
    assert response.status_code == 404


def test_the_other_clients_manager_and_an_outsider_get_404(outsider, acme, globex):
    globex_manager = member(globex, "globex-manager", Membership.Role.MANAGER)
    for user in (outsider, globex_manager):
        response = api_for(user).post(items_url(acme), [item("q1")], format="json")
        assert response.status_code == 404
    assert not Item.objects.filter(project=acme).exists()


def test_requests_past_the_rate_are_refused_with_429(manager, acme, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    client = api_for(manager)
    statuses = [client.get(reverse("projects:api-list")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_schema_is_openapi_in_json_and_yaml(db):
    client = APIClient()
    as_json = client.get(reverse("api-schema") + "?format=json")
    assert as_json.status_code == 200
    paths = as_json.json()["paths"]
    wanted = {"/api/v1/projects/", "/api/v1/projects/{slug}/export", "/api/v1/projects/{slug}/items"}
    assert wanted <= set(paths)
    as_yaml = client.get(reverse("api-schema"))
    assert as_yaml.status_code == 200 and as_yaml.content.startswith(b"openapi: 3.")


def test_the_schema_ui_loads_its_script_from_our_own_files(db):
    response = APIClient().get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html and "cdn" not in html.lower()


@pytest.mark.parametrize("update", ["1", "yes", "", "maybe"])
def test_update_is_true_or_false(manager, acme, update):
    response = api_for(manager).post(items_url(acme) + f"?update={update}", [item("q1")], format="json")
    assert response.status_code == 400 and "update must be true or false" in response.json()["errors"][0]
    assert not Item.objects.filter(project=acme).exists()


def test_the_schema_documents_the_errors_each_operation_can_answer(db):
    paths = APIClient().get(reverse("api-schema") + "?format=json").json()["paths"]
    items = paths["/api/v1/projects/{slug}/items"]["post"]
    assert {"201", "400", "401", "403", "404", "409", "413", "415", "429", "503"} <= set(items["responses"])
    assert items["requestBody"]["required"] is True
    assert set(paths["/api/v1/projects/"]["get"]["responses"]) == {"200", "401", "429", "503"}
    headers = items["responses"]["429"]["headers"]
    assert headers["Retry-After"]["required"] is True
