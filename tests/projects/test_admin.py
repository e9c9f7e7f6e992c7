import uuid

import pytest
from django.urls import reverse

from annotations.models import Annotation
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.models import AuditEvent
from projects.models import Guideline, Item, Membership, Project
from projects.permissions import Perm, has_project_perm
from tests.conftest import member
from tests.factories import ItemFactory, UserFactory

Role = Membership.Role


def admin_url(obj, view: str = "change") -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


def changelist(model_label: str) -> str:
    return reverse(f"admin:{model_label.replace('.', '_')}_changelist")


@pytest.fixture
def globex_item(globex, other_client_annotator):
    item = ItemFactory(project=globex, external_id="secret-globex-item")
    assignment = assignment_next(project=globex, expert=other_client_annotator)
    annotation_submit(
        assignment=assignment,
        expert=other_client_annotator,
        judgment=Judgment("A", 1, "x"),
        idempotency_key=uuid.uuid4(),
    )
    return item


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_a_manager_enters_the_admin_without_any_global_rights(manager_client, manager):
    assert not manager.is_staff and not manager.user_permissions.exists()
    page = manager_client.get(reverse("admin:index")).content.decode()
    for section in ("Projects", "Items", "Guidelines", "Memberships", "Annotations", "Audit events"):
        assert section in page
    for site_wide in ("Clients", "Users", "Groups"):
        assert f">{site_wide}<" not in page


def test_the_managers_lists_hold_only_their_projects(manager_client, acme, acme_items, globex, globex_item):
    projects = manager_client.get(changelist("projects.project")).content.decode()
    assert acme.name in projects and globex.name not in projects
    items = manager_client.get(changelist("projects.item")).content.decode()
    assert "a-0" in items and "secret-globex-item" not in items
    assert (
        "secret-globex-item" not in manager_client.get(changelist("annotations.annotation")).content.decode()
    )


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_a_foreign_objects_admin_url_is_404(manager_client, globex, globex_item, view):
    foreign = [
        globex,
        globex_item,
        Annotation.objects.get(item=globex_item),
        Membership.objects.get(project=globex),
        globex.guidelines.first() or Guideline.objects.create(project=globex, version=1, body="Globex rules"),
    ]
    for obj in foreign:
        assert manager_client.get(admin_url(obj, view)).status_code == 404, (obj, view)


def test_a_manager_cannot_change_a_foreign_item_by_posting_to_it(manager_client, globex_item):
    response = manager_client.post(
        admin_url(globex_item), {"external_id": "stolen", "project": globex_item.project_id}
    )
    assert response.status_code == 404
    globex_item.refresh_from_db()
    assert globex_item.external_id == "secret-globex-item"


def test_site_wide_pages_are_staff_only(manager_client):
    for model in ("projects.client", "labelhub.user", "auth.group"):
        assert manager_client.get(changelist(model)).status_code == 403, model


def new_project_form(client_pk: int, **overrides) -> dict:
    return {
        "client": client_pk,
        "name": "Acme rubric",
        "slug": "acme-rubric-2",
        "codename": "Stratus",
        "code": "stratus",
        "kind": "rubric",
        "status": "active",
        "labels_per_item": "1",
        "strength_scale": "three",
        "lease_minutes": "30",
        "gold_percent": "0",
        "qualification_items": "0",
        "qualification_pass_percent": "80",
        "qualification_cooloff_days": "",
        "gold_min": "10",
        "gold_bar_percent": "70",
        "min_seconds_per_1k_chars": "10",
        "required_domain": "",
        "price_per_label": "",
        "criteria-TOTAL_FORMS": "0",
        "criteria-INITIAL_FORMS": "0",
        **overrides,
    }


def test_a_manager_opens_projects_only_for_their_own_client_and_manages_them(
    manager_client, acme, globex, manager
):
    page = manager_client.get(reverse("admin:projects_project_add")).content.decode()
    assert acme.client.name in page and globex.client.name not in page
    refused = manager_client.post(reverse("admin:projects_project_add"), new_project_form(globex.client.pk))
    assert "Select a valid choice" in refused.content.decode()
    created = manager_client.post(reverse("admin:projects_project_add"), new_project_form(acme.client.pk))
    assert created.status_code == 302, created.content.decode()[:3000]
    project = Project.objects.get(client=acme.client, codename="Stratus")
    assert project.client == acme.client and has_project_perm(manager, project, Perm.MANAGE)


def test_a_manager_cannot_move_a_project_to_another_client(manager_client, acme):
    page = manager_client.get(admin_url(acme)).content.decode()
    assert 'name="client"' not in page


def test_experts_and_client_viewers_are_kept_out_of_the_admin(client, annotator, viewer):
    for user in (annotator, viewer):
        client.force_login(user)
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302 and "/admin/login/" in response.url


def test_a_reviewer_sees_annotations_read_only_and_nothing_else(client, acme, acme_items, annotator):
    reviewer = member(acme, "acme-reviewer", Role.REVIEWER)
    assignment = assignment_next(project=acme, expert=annotator)
    annotation = annotation_submit(
        assignment=assignment,
        expert=annotator,
        judgment=Judgment("B", 2, "why"),
        idempotency_key=uuid.uuid4(),
    ).annotation
    client.force_login(reviewer)
    assert client.get(changelist("annotations.annotation")).status_code == 200
    assert client.get(changelist("projects.item")).status_code == 403
    page = client.get(admin_url(annotation)).content.decode()
    assert "why" in page and 'name="rationale"' not in page


def test_adding_a_member_in_the_admin_goes_through_the_rules_and_the_audit(manager_client, acme, manager):
    UserFactory(username="newbie")
    response = manager_client.post(
        reverse("admin:projects_membership_add"), {"project": acme.pk, "username": "newbie", "role": "expert"}
    )
    assert response.status_code == 302
    newbie = Membership.objects.get(user__username="newbie", ended_at__isnull=True)
    assert has_project_perm(newbie.user, acme, Perm.LABEL)
    assert AuditEvent.objects.filter(action="role_granted", actor=manager, target="user newbie").exists()


def test_a_manager_cannot_add_members_to_a_foreign_project_through_the_admin(manager_client, globex):
    UserFactory(username="mole")
    response = manager_client.post(
        reverse("admin:projects_membership_add"),
        {"project": globex.pk, "username": "mole", "role": "manager"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Membership.objects.filter(user__username="mole").exists()


def test_a_conflict_of_interest_shows_as_a_form_error_in_the_admin(
    manager_client, acme, globex, other_client_annotator
):
    acme.client.competitors.add(globex.client)
    response = manager_client.post(
        reverse("admin:projects_membership_add"),
        {"project": acme.pk, "username": "globex-expert", "role": "expert"},
    )
    assert "This person cannot be added." in response.content.decode()
    assert not has_project_perm(other_client_annotator, acme, Perm.VIEW)
    assert not AuditEvent.objects.filter(
        action="role_granted", target="user globex-expert", project_id=acme.pk
    ).exists()


def test_saving_guidelines_in_the_admin_publishes_a_new_version(manager_client, acme):
    response = manager_client.post(
        reverse("admin:projects_guideline_add"), {"project": acme.pk, "body": "v2 rules"}
    )
    assert response.status_code == 302
    assert list(acme.guidelines.values_list("version", flat=True)) == [2, 1]


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("42", "&#x27;prompt&#x27; must be a string or a list of chat messages, got"),
        ('[{"role": "user"}]', "&#x27;prompt[0]&#x27;.content"),
        ('[{"role": "assistant", "content": "Hi"}]', "must end with a &#x27;user&#x27; message"),
    ],
)
def test_an_items_prompt_edited_in_the_admin_follows_the_imports_rule(
    manager_client, acme, acme_items, prompt, message
):
    item = acme_items[0]
    data = {
        "project": acme.pk,
        "external_id": item.external_id,
        "prompt": prompt,
        "domain": "",
        "metadata": "{}",
        "priority": "0",
        "responses-TOTAL_FORMS": "0",
        "responses-INITIAL_FORMS": "0",
    }
    response = manager_client.post(admin_url(item), data)
    assert response.status_code == 200 and message in response.content.decode()
    assert Item.objects.get(pk=item.pk).prompt == item.prompt


def test_changes_to_items_in_the_admin_are_audited(manager_client, acme, acme_items, manager):
    item = acme_items[0]
    data = {
        "project": acme.pk,
        "external_id": "renamed",
        "prompt": '"Q?"',
        "domain": "",
        "metadata": "{}",
        "priority": "0",
        "responses-TOTAL_FORMS": "0",
        "responses-INITIAL_FORMS": "0",
    }
    response = manager_client.post(admin_url(item), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Item.objects.get(pk=item.pk).external_id == "renamed"
    event = AuditEvent.objects.get(action="admin_changed")
    assert (event.actor, event.project_id) == (manager, acme.pk)


def test_the_audit_trail_cannot_be_edited_or_deleted_in_the_admin(client, staff, acme, manager):
    event = AuditEvent.objects.filter(project_id=acme.pk).first()
    client.force_login(staff)
    assert client.get(reverse("admin:labelhub_auditevent_add")).status_code == 403
    assert client.get(admin_url(event, "delete")).status_code == 403
    page = client.get(admin_url(event)).content.decode()
    assert 'name="action"' not in page and "Save" not in page


def test_managers_see_only_their_projects_audit_events(manager_client, globex, other_client_annotator):
    page = manager_client.get(changelist("labelhub.auditevent")).content.decode()
    assert "globex-expert" not in page


def test_the_audit_trail_names_and_filters_events_by_project(manager_client, acme, manager, globex):
    from labelhub.audit import audit_record

    audit_record(action="guideline_viewed", actor=manager, project=acme, target="acme-event")
    audit_record(action="guideline_viewed", actor=manager, target="no-project-event")
    audit_record(action="guideline_viewed", actor=manager, project=globex, target="globex-event")
    page = manager_client.get(changelist("labelhub.auditevent")).content.decode()
    assert "acme-event" in page and "acme-helpfulness" in page
    assert "globex-event" not in page and "globex-safety" not in page
    assert f"?project_id={acme.pk}" in page and f"project_id={globex.pk}" not in page
    only = manager_client.get(changelist("labelhub.auditevent"), {"project_id": acme.pk}).content.decode()
    assert "acme-event" in only and "no-project-event" not in only
    foreign = manager_client.get(
        changelist("labelhub.auditevent"), {"project_id": globex.pk}
    ).content.decode()
    assert "globex-event" not in foreign
    assert manager_client.get(changelist("labelhub.auditevent"), {"project_id": "x"}).status_code == 200


def test_a_manager_logs_in_on_the_admins_own_login_page_but_an_expert_does_not(client, manager, annotator):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk__in=[manager.pk, annotator.pk]).update(password="")
    for user in (manager, annotator):
        user.set_password("pw-for-tests")
        user.save()
    response = client.post(reverse("admin:login"), {"username": "acme-manager", "password": "pw-for-tests"})
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    client.logout()
    refused = client.post(reverse("admin:login"), {"username": "acme-expert", "password": "pw-for-tests"})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert "correct username and password" in refused.content.decode()
