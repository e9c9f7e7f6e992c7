import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.models import Annotation
from projects.models import Project


@pytest.fixture
def api(annotator) -> APIClient:
    client = APIClient()
    client.force_authenticate(annotator)
    return client


def next_url(project: Project) -> str:
    return reverse("annotations:api-next", args=[project.code])


def submit_url(project: Project, assignment_id: int) -> str:
    return reverse("annotations:api-submit", args=[project.code, assignment_id])


def test_next_returns_the_item_in_display_order_without_models_or_client(api, acme, acme_items):
    response = api.post(next_url(acme), {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["item_id"] == "a-0"
    assert body["messages"] == [{"role": "user", "content": acme_items[0].prompt}]
    assert [r["side"] for r in body["responses"]] == ["A", "B"]
    text = response.content.decode()
    assert "model-x" not in text and acme.client.name not in text and acme.slug not in text


def test_an_expert_submits_through_the_api_once_however_often_it_is_retried(api, acme, acme_items, annotator):
    assignment_id = api.post(next_url(acme), {}, format="json").json()["assignment_id"]
    body = {"choice": "B", "strength": 3, "rationale": "B is right", "idempotency_key": str(uuid.uuid4())}
    first = api.post(submit_url(acme, assignment_id), body, format="json")
    again = api.post(submit_url(acme, assignment_id), body, format="json")
    assert (first.status_code, first.json()) == (201, {"created": True})
    assert (again.status_code, again.json()) == (200, {"created": False})
    annotation = Annotation.objects.get()
    assert (annotation.expert, annotation.preference, annotation.strength) == (annotator, "b", 3)


@pytest.mark.parametrize("field", ["project", "annotator", "expert", "role", "preference", "item", "colour"])
def test_a_write_with_a_field_it_does_not_accept_is_refused_with_400_naming_it(api, acme, acme_items, field):
    assignment_id = api.post(next_url(acme), {}, format="json").json()["assignment_id"]
    body = {"choice": "A", "strength": 1, "idempotency_key": str(uuid.uuid4()), field: 1}
    response = api.post(submit_url(acme, assignment_id), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Annotation.objects.count() == 0


def test_next_refuses_fields_too(api, acme, acme_items):
    assert api.post(next_url(acme), {"expert": 1}, format="json").status_code == 400


def test_project_rules_come_back_as_field_errors(api, acme, acme_items):
    assignment_id = api.post(next_url(acme), {}, format="json").json()["assignment_id"]
    response = api.post(
        submit_url(acme, assignment_id), {"choice": "A", "idempotency_key": str(uuid.uuid4())}, format="json"
    )
    assert response.status_code == 400 and "strength" in response.json()


def test_when_nothing_is_left_next_answers_204(api, acme):
    assert api.post(next_url(acme), {}, format="json").status_code == 204


def test_outsiders_get_404_and_members_without_the_role_403(acme, acme_items, outsider, manager):
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.post(next_url(acme), {}, format="json").status_code == 404
    client.force_authenticate(manager)
    assert client.post(next_url(acme), {}, format="json").status_code == 403


def test_the_api_needs_a_login_and_the_csrf_token_with_a_session(acme, annotator):
    # 401, not 403: token authentication asks for credentials (WWW-Authenticate: Token).
    assert APIClient().post(next_url(acme), {}, format="json").status_code == 401
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(annotator)
    response = client.post(next_url(acme), {}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("strength", "3"), ("rationale", 0), ("active_seconds", "5"), ("idempotency_key", 7)],
)
def test_a_value_of_another_json_type_than_the_schemas_is_refused(api, acme, acme_items, field, value):
    assignment_id = api.post(next_url(acme), {}, format="json").json()["assignment_id"]
    body = {"choice": "B", "strength": 3, "idempotency_key": str(uuid.uuid4()), field: value}
    response = api.post(submit_url(acme, assignment_id), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Annotation.objects.exists()


def test_the_labelling_api_reads_json_bodies_only(api, acme, acme_items):
    response = api.post(next_url(acme), {"anything": "x"}, format="multipart")
    assert response.status_code == 415
