"""The admin tells a manager nothing about other clients, and crafted input changes nothing."""

import json
import uuid

import pytest
from django.contrib import admin
from django.contrib.admin import site
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from annotations.models import Annotation
from annotations.services import Judgment, annotation_submit, assignment_next
from projects.admin_site import ProjectScopedAdmin
from projects.models import Item, Membership, Project
from projects.services import PERSON_REFUSED, guideline_publish, membership_grant
from tests.conftest import api_for, member, staff_user
from tests.factories import ItemFactory, ProjectFactory, UserFactory
from tests.projects.test_admin import admin_url, new_project_form


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def labelled(item, expert):
    assignment = assignment_next(project=item.project, expert=expert)
    assert assignment.item == item
    return annotation_submit(
        assignment=assignment, expert=expert, judgment=Judgment("A", 1, "x"), idempotency_key=uuid.uuid4()
    ).annotation


def priority_post(*rows: tuple[str, str], initial: int | None = None) -> dict:
    initial = len(rows) if initial is None else initial
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": str(initial), "_save": "Save"}
    for n, (pk, priority) in enumerate(rows):
        data[f"form-{n}-id"] = pk
        data[f"form-{n}-priority"] = priority
    return data


@pytest.mark.parametrize("aim", ["foreign", "missing", "out of range", "not a number", "empty", "extra row"])
def test_a_list_edit_naming_an_item_not_on_the_list_changes_nothing(manager_client, acme_items, globex, aim):
    foreign = ItemFactory(project=globex, external_id="g-1")
    pk = {"foreign": str(foreign.pk), "missing": "987654", "out of range": str(2**70), "not a number": "x1"}
    own = (str(acme_items[0].pk), "5")
    url = reverse("admin:projects_item_changelist")
    response = manager_client.post(
        url, priority_post(own, (pk.get(aim, ""), "9"), initial=1 if aim == "extra row" else None)
    )
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert "nothing was saved" in response.content.decode()
    assert set(Item.objects.values_list("priority", flat=True)) == {0}
    assert Item.objects.count() == 6
    # The rows of the list itself are still saved.
    assert manager_client.post(url, priority_post(own)).status_code == 302
    assert Item.objects.get(pk=acme_items[0].pk).priority == 5


@pytest.fixture
def globex_labelled(globex, other_client_annotator):
    """A labelled item of the other client, in a domain only that client uses."""
    item = ItemFactory(project=globex, external_id="globex-secret-item")
    annotation = labelled(item, other_client_annotator)
    Item.objects.filter(pk=item.pk).update(domain="globex-only-domain")
    return annotation


@pytest.fixture
def acme_labelled(acme_items, annotator):
    annotation = labelled(acme_items[0], annotator)
    Item.objects.filter(pk=acme_items[0].pk).update(domain="acme-domain")
    return annotation


def scoped_changelists() -> list[str]:
    admin.autodiscover()  # the admin modules register their models as the URLs are loaded
    return sorted(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        for model, model_admin in site._registry.items()
        if isinstance(model_admin, ProjectScopedAdmin)
    )


def test_no_list_filter_names_anything_of_another_client(
    manager_client, acme_labelled, globex_labelled, globex
):
    secrets = ("globex-only-domain", globex.slug, globex.codename, globex.name, "globex-expert")
    changelists = scoped_changelists()
    assert "admin:annotations_annotation_changelist" in changelists
    leaks = [
        (changelist, secret)
        for changelist in changelists
        for page in [manager_client.get(reverse(changelist)).content.decode()]
        for secret in secrets
        if secret in page
    ]
    assert leaks == []


def test_the_domain_filter_offers_a_manager_their_own_domains_and_staff_everyones(
    client, manager, staff, acme_labelled, globex_labelled
):
    url = reverse("admin:annotations_annotation_changelist")
    client.force_login(manager)
    page = client.get(url).content.decode()
    assert "acme-domain" in page and "globex-only-domain" not in page
    client.force_login(staff)
    page = client.get(url).content.decode()
    assert "acme-domain" in page and "globex-only-domain" in page


@pytest.fixture
def reviewer_client(client, acme, acme_labelled, annotator):
    """A reviewer of two of the client's projects, each with a label, so a project filter shows."""
    second = ProjectFactory(client=acme.client, slug="acme-second-secret", codename="Cirrus")
    guideline_publish(project=second, body="Rules", author=None)
    labelled(ItemFactory(project=second), annotator)
    reviewer = member(acme, "acme-reviewer", Membership.Role.REVIEWER)
    membership_grant(project=second, user=reviewer, role=Membership.Role.REVIEWER, granted_by=staff_user())
    client.force_login(reviewer)
    return client


def test_a_reviewer_sees_projects_by_codename_never_by_slug(reviewer_client, acme, acme_labelled, manager):
    annotation = acme_labelled
    pages = [
        reverse("admin:annotations_annotation_changelist"),
        reverse("admin:annotations_annotation_change", args=[annotation.pk]),
        reverse("admin:annotations_assignment_changelist"),
        reverse("admin:annotations_assignment_change", args=[annotation.assignment_id]),
    ]
    for url in pages:
        response = reviewer_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for slug in (acme.slug, "acme-second-secret"):
            assert slug not in page, (url, slug)
    listed = reviewer_client.get(pages[0]).content.decode()
    assert "Aurora" in listed and "Cirrus" in listed
    assert "Aurora" in reviewer_client.get(pages[1]).content.decode()
    # Those who may see the client (managers, staff) still see the project's internal key.
    reviewer_client.force_login(manager)
    assert acme.slug in reviewer_client.get(pages[1]).content.decode()


def shortcut(client, model, pk) -> tuple[int, str]:
    response = client.get(
        reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(model).pk, pk])
    )
    context = response.context or {}
    return response.status_code, str(context.get("exception", ""))


@pytest.mark.parametrize("model", [Project, Item])
def test_the_view_on_site_shortcut_answers_alike_for_a_foreign_and_a_missing_object(
    manager_client, globex_labelled, model
):
    foreign = globex_labelled.project if model is Project else globex_labelled.item
    assert shortcut(manager_client, model, foreign.pk) == shortcut(manager_client, model, 987654)
    assert shortcut(manager_client, model, foreign.pk)[0] == 404


@pytest.fixture
def unaddable(acme, globex, other_client_annotator):
    """Usernames a manager may not add, for reasons that are not theirs to learn."""
    acme.client.competitors.add(globex.client)
    UserFactory(username="root-admin", is_staff=True)
    UserFactory(username="gone-away", is_active=False)
    return {
        "competitor's expert": "globex-expert",
        "staff": "root-admin",
        "inactive": "gone-away",
        "none": "nobody",
    }


def add_member(client, acme, username: str):
    response = client.post(
        reverse("admin:projects_membership_add"), {"project": acme.pk, "username": username, "role": "expert"}
    )
    assert response.status_code == 200
    return response.context["adminform"].form.errors


def test_adding_a_member_says_only_that_this_person_cannot_be_added(manager_client, staff, acme, unaddable):
    answers = {why: add_member(manager_client, acme, username) for why, username in unaddable.items()}
    assert all(errors == {"username": [PERSON_REFUSED]} for errors in answers.values()), answers
    assert not Membership.objects.filter(project=acme, user__username__in=unaddable.values()).exists()
    # Staff see every client: they are told why, so that they may override a conflict.
    manager_client.force_login(staff)
    errors = str(add_member(manager_client, acme, unaddable["competitor's expert"]))
    assert "competing client" in errors and "recorded reason" in errors


def test_opening_a_project_tells_nothing_of_another_clients_names(manager_client, acme, globex):
    add = reverse("admin:projects_project_add")
    theirs = new_project_form(acme.client.pk, slug=globex.slug, codename=globex.codename, code=globex.code)
    mine = new_project_form(acme.client.pk, slug="acme-own", codename="Nimbus", code="nimbus")
    for form in (theirs, mine):
        response = manager_client.post(add, form)
        assert response.status_code == 302, response.content.decode()[:3000]
    opened = Project.objects.get(client=acme.client, codename=globex.codename)
    # The internal key and the web address key are made for the project, never typed.
    assert opened.slug != globex.slug and opened.code != globex.code
    assert Project.objects.get(client=acme.client, codename="Nimbus").code != "nimbus"
    # A codename names one project of a client; the refusal speaks of this client only.
    again = manager_client.post(add, theirs)
    assert again.status_code == 200
    assert "This client already has a project with this codename." in again.content.decode()
    # Nor may the web address of a project be changed to probe other clients' addresses.
    assert 'name="code"' not in manager_client.get(admin_url(acme)).content.decode()


def item_form(item, **changes) -> dict:
    """The item's change form as the admin posts it, with `changes` to its fields."""
    data = {
        "project": item.project_id,
        "external_id": item.external_id,
        "prompt": json.dumps(item.prompt),
        "domain": item.domain,
        "metadata": json.dumps(item.metadata),
        "priority": str(item.priority),
        "gold_answer": "null",
    }
    responses = list(item.responses.all())
    data |= {"responses-TOTAL_FORMS": str(len(responses)), "responses-INITIAL_FORMS": str(len(responses))}
    for n, response in enumerate(responses):
        data |= {
            f"responses-{n}-id": response.pk,
            f"responses-{n}-item": item.pk,
            f"responses-{n}-position": response.position,
            f"responses-{n}-content": response.content,
            f"responses-{n}-model": response.model,
        }
    return data | changes


def test_a_labelled_items_content_cannot_change_in_the_admin_or_the_api(
    manager_client, manager, acme, acme_items, annotator
):
    item = acme_items[0]
    labelled(item, annotator)
    before = (item.prompt, item.domain, list(item.responses.values_list("content", "model")))
    changed = item_form(
        item,
        prompt='"A different question?"',
        domain="law",
        priority="7",
        **{"responses-0-content": "Another answer", "responses-0-model": "model-z"},
    )
    response = manager_client.post(admin_url(item), changed)
    assert response.status_code == 302, response.content.decode()[:3000]
    item.refresh_from_db()
    assert (item.prompt, item.domain, list(item.responses.values_list("content", "model"))) == before
    assert item.priority == 7  # not content: how soon it is served may still change
    page = manager_client.get(admin_url(item)).content.decode()
    assert 'name="prompt"' not in page and 'name="responses-0-content"' not in page
    # The API's import refuses the same change, by the same rule.
    refused = api_for(manager).post(
        reverse("projects:api-items", kwargs={"slug": acme.slug}) + "?update=true",
        [
            {
                "id": item.external_id,
                "prompt": "A different question?",
                "responses": [{"content": "x"}, {"content": "y"}],
            }
        ],
        format="json",
    )
    assert refused.status_code == 409 and "already has annotations" in str(refused.json())
    # An item nobody has labelled yet may still be corrected.
    other = acme_items[1]
    assert manager_client.post(admin_url(other), item_form(other, domain="law")).status_code == 302
    assert Item.objects.get(pk=other.pk).domain == "law"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_staff_deleting_an_annotation_gives_its_item_back_its_slot(staff_client, acme, acme_items, annotator):
    annotation = labelled(acme_items[0], annotator)
    response = staff_client.post(admin_url(annotation, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not Annotation.objects.filter(pk=annotation.pk).exists()
    assert Item.objects.get(pk=acme_items[0].pk).n_labels == 0
    # Served again, as if the judgment had never been given.
    assert assignment_next(project=acme, expert=annotator).item == acme_items[0]


def test_staff_deleting_annotations_in_bulk_keeps_every_items_label_count(
    staff_client, acme, acme_items, annotator, annotator2
):
    acme.labels_per_item = 2
    acme.save()
    first, second = labelled(acme_items[0], annotator), labelled(acme_items[0], annotator2)
    kept = labelled(acme_items[1], annotator)
    response = staff_client.post(
        reverse("admin:annotations_annotation_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    counts = dict(
        Item.objects.filter(pk__in=[acme_items[0].pk, acme_items[1].pk]).values_list("pk", "n_labels")
    )
    assert counts == {acme_items[0].pk: 0, acme_items[1].pk: 1}
    assert list(Annotation.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize("raw", ["²", "٣", "9" * 5000, "-1", "1e3"])
def test_a_project_id_in_a_query_that_no_row_could_have_is_ignored_not_a_500(manager_client, acme, raw):
    for url, name in (
        (reverse("admin:projects_membership_add"), "project"),
        (reverse("admin:projects_guideline_add"), "project"),
        (reverse("admin:labelhub_auditevent_changelist"), "project_id"),
    ):
        assert manager_client.get(url, {name: raw}).status_code == 200, (url, raw)
