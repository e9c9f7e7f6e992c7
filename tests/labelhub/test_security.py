import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from annotations.models import Annotation
from annotations.services import assignment_next
from labelhub.audit import audit_record
from labelhub.models import AuditEvent
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "PSEUDONYM_KEY",
            "VAR_DIR",
            "DEBUG",
            "DJANGO_SETTINGS_MODULE",
            "SECURE_SSL_REDIRECT",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checklist_without_a_warning():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x" * 20 + uuid.uuid4().hex + uuid.uuid4().hex,
        DEBUG="0",
        ALLOWED_HOSTS="labels.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_debug_the_app_refuses_to_start_without_a_secret_key():
    result = run_manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


PRINT_KEYS = "from django.conf import settings; print(settings.SECRET_KEY); print(settings.PSEUDONYM_KEY)"


def test_a_development_server_without_keys_makes_its_own_once_and_keeps_it_private(tmp_path):
    var = tmp_path / "var"
    first = run_manage("shell", "--no-imports", "-c", PRINT_KEYS, DEBUG="1", VAR_DIR=str(var))
    assert first.returncode == 0, first.stderr
    secret, pseudonym = first.stdout.split()
    again = run_manage("shell", "--no-imports", "-c", PRINT_KEYS, DEBUG="1", VAR_DIR=str(var))
    elsewhere = run_manage(
        "shell", "--no-imports", "-c", PRINT_KEYS, DEBUG="1", VAR_DIR=str(tmp_path / "other")
    )

    assert again.stdout.split() == [secret, pseudonym]  # sessions and pseudonyms survive a restart
    assert elsewhere.stdout.split()[0] != secret  # another installation has another key
    assert len(secret) >= 50 and pseudonym == secret
    key_file = var / "secret.key"
    assert key_file.read_text().strip() == secret
    assert key_file.stat().st_mode & 0o777 == 0o600
    source = "".join(path.read_text() for path in (ROOT / "labelhub").rglob("*.py"))
    assert secret not in source


def test_a_damaged_key_file_stops_the_development_server_with_its_path(tmp_path):
    (tmp_path / "secret.key").write_text("short\n")
    result = run_manage("check", DEBUG="1", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert f"{tmp_path / 'secret.key'} holds no usable key" in result.stderr


def test_a_pseudonym_key_of_its_own_is_kept_apart_from_the_secret_key(tmp_path):
    result = run_manage(
        "shell", "--no-imports", "-c", PRINT_KEYS, DEBUG="1", VAR_DIR=str(tmp_path), PSEUDONYM_KEY="p" * 50
    )
    assert result.stdout.split()[1] == "p" * 50 != result.stdout.split()[0]


def test_every_page_carries_the_security_headers(client, annotator, acme):
    client.force_login(annotator)
    response = client.get(reverse("annotations:home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_no_page_has_an_inline_script_or_style(client, annotator, acme, acme_items):
    client.force_login(annotator)
    for url in (
        reverse("annotations:home"),
        reverse("annotations:label", args=[acme.code]),
        reverse("login"),
    ):
        page = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url
        assert "<style" not in page and " style=" not in page and " on" + "click=" not in page, url


def login(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def without_csrf(html: str) -> str:
    # Every response carries a fresh masked CSRF token (64 characters); nothing else may differ.
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "<token>", html)


def test_logins_and_failed_logins_are_audited(client, db):
    UserFactory(username="alice")
    assert login(client, "alice", "wrong").status_code == 200
    assert login(client, "alice", "pw-for-tests").status_code == 302
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_name"))
    assert actions == [("login_failed", "alice"), ("login", "alice")]


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(db):
    UserFactory(username="alice")
    unknown = login(Client(), "nobody-here", "whatever")
    wrong = login(Client(), "alice", "whatever")
    assert unknown.status_code == wrong.status_code == 200
    assert without_csrf(unknown.content.decode()).replace("nobody-here", "alice") == without_csrf(
        wrong.content.decode()
    )


def test_repeated_failures_lock_that_login_out_even_with_the_right_password(client, settings, db):
    UserFactory(username="alice")
    UserFactory(username="bob")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "guess")
    locked = login(client, "alice", "pw-for-tests")
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert login(Client(), "bob", "pw-for-tests").status_code == 302  # others are not affected


@pytest.mark.parametrize("name", ["annotations:submit", "annotations:skip"])
def test_a_post_without_the_csrf_token_is_refused(acme, acme_items, annotator, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)
    assignment = assignment_next(project=acme, expert=annotator)
    response = client.post(
        reverse(name, args=[acme.code, assignment.pk]),
        {"choice": "A", "strength": "1", "idempotency_key": str(uuid.uuid4()), "reason": "other"},
    )
    assert response.status_code == 403
    assert Annotation.objects.count() == 0


def test_an_export_download_needs_the_csrf_token(acme, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert (
        client.post(reverse("annotations:export", args=[acme.code]), {"format": "pairs"}).status_code == 403
    )
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()


def test_an_export_download_is_audited(client, acme, manager):
    client.force_login(manager)
    client.post(reverse("annotations:export", args=[acme.code]), {"format": "pairs"})
    event = AuditEvent.objects.get(action="export_downloaded")
    assert (event.actor, event.project_id, event.detail["format"]) == (manager, acme.pk, "pairs")


def test_extra_fields_in_a_submission_cannot_change_who_what_or_where(
    client, acme, acme_items, annotator, annotator2, globex
):
    client.force_login(annotator)
    assignment = assignment_next(project=acme, expert=annotator)
    client.post(
        reverse("annotations:submit", args=[acme.code, assignment.pk]),
        {
            "choice": "A",
            "strength": "1",
            "idempotency_key": str(uuid.uuid4()),
            "expert": annotator2.pk,
            "project": globex.pk,
            "item": acme_items[3].pk,
            "preference": "b",
            "role": "manager",
        },
    )
    annotation = Annotation.objects.get()
    assert (annotation.expert, annotation.project, annotation.item, annotation.preference) == (
        annotator,
        acme,
        assignment.item,
        "a",
    )


@pytest.mark.postgres_only
def test_the_database_refuses_to_change_or_delete_an_audit_event(db):
    event = audit_record(action="login", actor_name="someone")
    for statement in (
        "UPDATE labelhub_auditevent SET actor_name = 'x' WHERE id = %s",
        "DELETE FROM labelhub_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.pk])
    event.refresh_from_db()
    assert event.actor_name == "someone"
