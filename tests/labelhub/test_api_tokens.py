"""The API token page: a token is made, shown once, replaced and revoked only by a POST."""

import re

from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from labelhub.models import AuditEvent


def key_on(page) -> str | None:
    found = re.search(r'data-testid="token-key">([0-9a-f]{40})<', page.content.decode())
    return found.group(1) if found else None


def test_creating_a_token_shows_its_key_once(client, manager):
    client.force_login(manager)
    created = client.post(reverse("token-create"))
    assert created.status_code == 200
    key = key_on(created)
    assert key == Token.objects.get(user=manager).key
    later = client.get(reverse("tokens"))
    assert later.status_code == 200 and key not in later.content.decode()
    assert "You have a token" in later.content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN_CREATED, actor=manager).exists()


def test_a_new_token_replaces_the_old_one(client, manager):
    client.force_login(manager)
    first = key_on(client.post(reverse("token-create")))
    second = key_on(client.post(reverse("token-create")))
    assert first != second
    assert list(Token.objects.filter(user=manager).values_list("key", flat=True)) == [second]


def test_revoking_deletes_the_token_and_the_api_refuses_it(client, manager):
    client.force_login(manager)
    key = key_on(client.post(reverse("token-create")))
    response = client.post(reverse("token-revoke"))
    assert response.status_code == 302 and response["Location"] == reverse("tokens")
    assert not Token.objects.filter(user=manager).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.API_TOKEN_REVOKED, actor=manager).exists()
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(reverse("projects:api-list")).status_code == 401


def test_get_changes_nothing(client, manager):
    client.force_login(manager)
    assert client.get(reverse("tokens")).status_code == 200
    assert client.get(reverse("token-create")).status_code == 405
    assert client.get(reverse("token-revoke")).status_code == 405
    assert not Token.objects.exists()


def test_each_user_revokes_only_their_own_token(client, manager, viewer):
    Token.objects.create(user=viewer)
    client.force_login(manager)
    client.post(reverse("token-revoke"))
    assert Token.objects.filter(user=viewer).exists()


def test_writes_need_the_csrf_token(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post(reverse("token-create")).status_code == 403
    assert client.post(reverse("token-revoke")).status_code == 403
    assert not Token.objects.exists()


def test_it_requires_login(client, db):
    response = client.get(reverse("tokens"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.post(reverse("token-create")).status_code == 302
    assert not Token.objects.exists()


def test_the_api_refuses_a_token_of_a_deactivated_user_and_an_unknown_one(manager):
    key = Token.objects.create(user=manager).key
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(reverse("projects:api-list")).status_code == 200
    manager.is_active = False
    manager.save(update_fields=["is_active"])

    refused = api.get(reverse("projects:api-list"))

    assert refused.status_code == 401 and refused.json() == {"detail": "User inactive or deleted."}
    unknown = Client(HTTP_AUTHORIZATION=f"Token {'0' * 40}").get(reverse("projects:api-list"))
    assert unknown.status_code == 401 and unknown.json() == {"detail": "Invalid token."}
