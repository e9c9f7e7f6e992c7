"""The admin tells a manager nothing about other clients, and crafted input changes nothing."""

import uuid

import pytest
from django.urls import reverse

from annotations.services import Judgment, annotation_submit, assignment_next
from projects.models import Item
from tests.factories import ItemFactory


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
