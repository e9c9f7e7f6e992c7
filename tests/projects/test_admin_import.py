"""Importing items in the admin: check a file (nothing stored), then confirm (all or nothing)."""

import json
import uuid

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.models import AuditEvent
from projects import admin_import
from projects.importing import parse_items
from projects.models import Item, Membership
from projects.services import items_import
from tests.conftest import member

Role = Membership.Role
IMPORT_URL = "/admin/projects/item/import/"


def jsonl(*rows: dict | str) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n").encode()


def row(item_id: str, prompt: str = "What is 2 + 2?") -> dict:
    return {"id": item_id, "prompt": prompt, "responses": [{"content": "4"}, {"content": "5"}]}


GOOD = jsonl(row("q1"), row("q2"), row("q3"))


def upload(client, project, data: bytes = GOOD, name: str = "items.jsonl", **fields):
    payload = {"project": project.pk, "file": SimpleUploadedFile(name, data), **fields}
    return client.post(IMPORT_URL, payload)


def confirm(client, token: str):
    return client.post(IMPORT_URL, {"token": token})


def stored_files(folder) -> list:
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    settings.ITEM_IMPORT_DIR = tmp_path / "imports"
    return settings.ITEM_IMPORT_DIR


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def globex_manager(globex):
    return member(globex, "globex-manager", Role.MANAGER)


def test_the_url_is_named_and_sits_under_the_item_admin():
    assert reverse("admin:projects_item_import") == IMPORT_URL


def test_checking_a_good_file_reports_counts_and_stores_nothing(manager_client, acme, import_dir):
    response = upload(manager_client, acme)
    page = response.content.decode()
    check = response.context["check"]
    assert (check.created, check.updated, check.unchanged, check.errors) == (3, 0, 0, [])
    assert 'id="count-created">3<' in page and "Import 3 items" in page
    assert not Item.objects.filter(project=acme).exists()
    assert not AuditEvent.objects.filter(action="admin_added").exists()
    assert len(stored_files(import_dir)) == 1


def test_confirming_stores_the_items_audits_and_deletes_the_kept_file(
    manager_client, acme, manager, import_dir
):
    token = upload(manager_client, acme).context["check"].token
    response = confirm(manager_client, token)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:projects_item_changelist')}?project__id__exact={acme.pk}"
    stored = Item.objects.filter(project=acme).values_list("external_id", flat=True)
    assert sorted(stored) == ["q1", "q2", "q3"]
    event = AuditEvent.objects.get(action="admin_added")
    assert (event.actor, event.project_id, event.target) == (manager, acme.pk, "import items.jsonl")
    assert (event.detail["created"], event.detail["updated"], event.detail["unchanged"]) == (3, 0, 0)
    assert stored_files(import_dir) == []
    page = manager_client.get(response["Location"]).content.decode()
    assert "3 created, 0 updated, 0 unchanged" in page


def test_a_second_click_on_confirm_imports_nothing_more(manager_client, acme):
    token = upload(manager_client, acme).context["check"].token
    assert confirm(manager_client, token).status_code == 302
    again = confirm(manager_client, token)
    assert again.status_code == 400 and "already imported" in again.content.decode()
    assert AuditEvent.objects.filter(action="admin_added").count() == 1


def test_a_bad_file_shows_every_error_with_its_line_and_offers_no_confirmation(
    manager_client, acme, import_dir
):
    bad = jsonl(row("ok"), "{not json", {"id": "x", "prompt": "?"}, row("ok"), row("fine"), [1, 2])
    response = upload(manager_client, acme, bad, name="bad.jsonl")
    page = response.content.decode()
    assert [e.line for e in response.context["check"].errors] == [2, 3, 4, 6]
    for expected in (
        "line 2: invalid JSON",
        "line 3: missing field &#x27;responses&#x27;",
        "line 4: duplicate id &#x27;ok&#x27; (first on line 1)",
        "line 6: each line must be a JSON object",
    ):
        assert expected in page
    assert "bad.jsonl" in page and "nothing will be imported" in page
    assert 'id="import-confirm"' not in page and 'name="token"' not in page
    assert stored_files(import_dir) == []
    assert not Item.objects.filter(project=acme).exists()


def test_a_made_up_or_tampered_token_stores_nothing(manager_client, acme):
    for token in ("made-up", upload(manager_client, acme).context["check"].token[:-2] + "xx"):
        response = confirm(manager_client, token)
        assert response.status_code == 400
        assert "not valid" in response.content.decode()
    assert not Item.objects.filter(project=acme).exists()
    assert not AuditEvent.objects.filter(action="admin_added").exists()


def test_an_expired_check_must_be_uploaded_again(manager_client, acme, monkeypatch):
    token = upload(manager_client, acme).context["check"].token
    monkeypatch.setattr(admin_import, "TOKEN_MAX_AGE", -1)
    response = confirm(manager_client, token)
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not Item.objects.filter(project=acme).exists()


def test_a_csv_upload_is_checked_and_imported(manager_client, acme):
    data = b'id,prompt,response_a,response_b,model_a,model_b,domain\nc1,"Say ""hi""",hi,hello,m1,m2,Law\n'
    response = upload(manager_client, acme, data, name="items.csv")
    assert response.context["check"].fmt == "csv" and response.context["check"].created == 1
    confirm(manager_client, response.context["check"].token)
    item = Item.objects.get(project=acme, external_id="c1")
    assert item.prompt == 'Say "hi"' and item.domain == "law"


def test_the_format_can_be_chosen_when_the_name_does_not_tell(manager_client, acme):
    unknown = upload(manager_client, acme, name="items.txt")
    assert "cannot tell the format" in unknown.content.decode() and unknown.context["check"] is None
    chosen = upload(manager_client, acme, name="items.txt", format="jsonl")
    assert chosen.context["check"].created == 3


def test_uploading_the_same_file_again_reports_it_unchanged(manager_client, acme, import_dir):
    confirm(manager_client, upload(manager_client, acme).context["check"].token)
    response = upload(manager_client, acme)
    check = response.context["check"]
    assert (check.created, check.updated, check.unchanged, check.token) == (0, 0, 3, "")
    assert "already imported" in response.content.decode()
    assert stored_files(import_dir) == []


def test_changed_content_needs_replace_and_then_updates(manager_client, acme):
    confirm(manager_client, upload(manager_client, acme).context["check"].token)
    changed = jsonl(row("q1"), row("q2", prompt="What is 3 + 3?"), row("q3"))
    refused = upload(manager_client, acme, changed)
    assert "line 2: item &#x27;q2&#x27; already exists with different content" in refused.content.decode()
    assert refused.context["check"].token == ""
    replaced = upload(manager_client, acme, changed, update="on").context["check"]
    assert (replaced.created, replaced.updated, replaced.unchanged) == (0, 1, 2)
    confirm(manager_client, replaced.token)
    assert Item.objects.get(project=acme, external_id="q2").prompt == "What is 3 + 3?"


def test_labelled_items_keep_their_content_even_with_replace(manager_client, acme, annotator):
    confirm(manager_client, upload(manager_client, acme, jsonl(row("q1"))).context["check"].token)
    annotation_submit(
        assignment=assignment_next(project=acme, expert=annotator),
        expert=annotator,
        judgment=Judgment("A", 1, "x"),
        idempotency_key=uuid.uuid4(),
    )
    response = upload(manager_client, acme, jsonl(row("q1", prompt="Changed?")), update="on")
    assert "line 1: item &#x27;q1&#x27; already has annotations" in response.content.decode()


def test_a_conflict_arising_after_the_check_stores_nothing(manager_client, acme, import_dir):
    token = upload(manager_client, acme).context["check"].token
    items_import(project=acme, records=parse_items(jsonl(row("q2", prompt="Other?")), fmt="jsonl").items)
    response = confirm(manager_client, token)
    assert "line 2: item &#x27;q2&#x27; already exists" in response.content.decode()
    assert list(Item.objects.filter(project=acme).values_list("external_id", flat=True)) == ["q2"]
    assert not AuditEvent.objects.filter(action="admin_added").exists()
    assert stored_files(import_dir) == []


def test_a_file_over_the_size_limit_is_refused_with_a_clear_message(manager_client, acme, monkeypatch):
    monkeypatch.setattr(admin_import, "MAX_UPLOAD_BYTES", 10)
    response = upload(manager_client, acme)
    assert "the limit is" in response.content.decode() and response.context["check"] is None


def test_a_manager_is_not_offered_another_clients_project(manager_client, acme, globex):
    page = manager_client.get(IMPORT_URL).content.decode()
    assert acme.name in page and globex.name not in page


def test_a_manager_cannot_import_into_another_clients_project(manager_client, globex, import_dir):
    response = upload(manager_client, globex)
    assert "Select a valid choice" in response.content.decode() and response.context["check"] is None
    assert not Item.objects.filter(project=globex).exists()
    assert stored_files(import_dir) == []


def test_a_token_for_a_foreign_project_is_404(manager_client, manager, globex):
    token = signing.dumps(
        {"key": "0" * 32, "user": manager.pk, "project": globex.pk, "sha256": "", "filename": "x.jsonl"},
        salt=admin_import.TOKEN_SALT,
    )
    assert confirm(manager_client, token).status_code == 404
    assert not Item.objects.filter(project=globex).exists()


def test_a_confirmation_cannot_be_replayed_by_another_user(client, manager, globex_manager, staff, acme):
    client.force_login(manager)
    token = upload(client, acme).context["check"].token
    for intruder in (globex_manager, staff):
        client.force_login(intruder)
        response = confirm(client, token)
        assert response.status_code == 400 and "not valid" in response.content.decode()
    assert not Item.objects.filter(project=acme).exists()
    client.force_login(manager)  # the rightful owner still can
    assert confirm(client, token).status_code == 302


def test_experts_and_outsiders_are_sent_to_the_admin_login(client, acme, annotator, outsider):
    for user in (annotator, outsider, None):
        client.logout()
        if user:
            client.force_login(user)
        for response in (client.get(IMPORT_URL), upload(client, acme)):
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Item.objects.filter(project=acme).exists()


def test_a_reviewer_may_enter_the_admin_but_not_import(client, acme):
    client.force_login(member(acme, "acme-reviewer", Role.REVIEWER))
    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, acme).status_code == 403
    assert not Item.objects.filter(project=acme).exists()


def test_staff_may_import_into_any_project(client, staff, acme, globex):
    client.force_login(staff)
    page = client.get(IMPORT_URL).content.decode()
    assert acme.name in page and globex.name in page
    confirm(client, upload(client, globex).context["check"].token)
    assert Item.objects.filter(project=globex).count() == 3


def test_get_never_changes_anything(manager_client, acme, import_dir):
    token = upload(manager_client, acme).context["check"].token
    before = (Item.objects.count(), AuditEvent.objects.count(), stored_files(import_dir))
    for url in (IMPORT_URL, f"{IMPORT_URL}?token={token}", f"{IMPORT_URL}?project={acme.pk}"):
        assert manager_client.get(url).status_code == 200
    assert (Item.objects.count(), AuditEvent.objects.count(), stored_files(import_dir)) == before


def test_the_item_list_offers_the_import_button_to_managers(manager_client, acme):
    page = manager_client.get(f"{reverse('admin:projects_item_changelist')}?project__id__exact={acme.pk}")
    assert f'href="{IMPORT_URL}?project={acme.pk}"' in page.content.decode()
