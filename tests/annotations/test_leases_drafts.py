"""Leases kept alive by the page's heartbeat, drafts saved as the expert works and put back."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from annotations.models import Assignment, Draft
from annotations.services import (
    DRAFT_MAX_CHARS,
    Judgment,
    LeaseLost,
    annotation_submit,
    assignment_extend,
    assignment_next,
    assignment_skip,
    draft_save,
)
from tests.conftest import api_for
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def leased(acme, annotator):
    ItemFactory(project=acme)
    return assignment_next(project=acme, expert=annotator)


def lapse(assignment):
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assignment.refresh_from_db()


def test_a_heartbeat_extends_the_lease_by_the_projects_length(acme, annotator, leased):
    later = timezone.now() + timedelta(minutes=20)
    extended = assignment_extend(assignment=leased, expert=annotator, now=later)
    assert extended.expires_at == later + timedelta(minutes=acme.lease_minutes)
    assert Assignment.objects.get(pk=leased.pk).expires_at == extended.expires_at


def test_a_lapsed_lease_is_taken_up_again_while_its_slot_is_free(acme, annotator, leased):
    lapse(leased)
    assert assignment_extend(assignment=leased, expert=annotator).status == Assignment.Status.ACTIVE


def test_a_lapsed_lease_whose_slot_went_to_another_expert_is_lost(acme, annotator, annotator2, leased):
    lapse(leased)
    assert assignment_next(project=acme, expert=annotator2).item == leased.item
    with pytest.raises(LeaseLost):
        assignment_extend(assignment=leased, expert=annotator)


def test_a_heartbeat_for_a_submitted_item_or_someone_elses_is_refused(acme, annotator, annotator2, leased):
    with pytest.raises(ValidationError, match="someone else"):
        assignment_extend(assignment=leased, expert=annotator2)
    annotation_submit(
        assignment=leased, expert=annotator, judgment=Judgment("A", 1, ""), idempotency_key=uuid.uuid4()
    )
    with pytest.raises(ValidationError, match="already submitted"):
        assignment_extend(assignment=leased, expert=annotator)


def test_the_heartbeat_endpoints_answer_the_new_expiry_or_409(client, acme, annotator, annotator2, leased):
    client.force_login(annotator)
    url = reverse("annotations:heartbeat", args=[acme.code, leased.pk])
    answer = client.post(url)
    assert answer.status_code == 200
    assert answer.json()["expires_at"] == Assignment.objects.get(pk=leased.pk).expires_at.isoformat()
    api = api_for(annotator).post(
        reverse("annotations:api-heartbeat", kwargs={"code": acme.code, "assignment_id": leased.pk})
    )
    assert api.status_code == 200 and "expires_at" in api.json()
    lapse(leased)
    assignment_next(project=acme, expert=annotator2)
    lost = client.post(url)
    assert lost.status_code == 409 and "other experts" in lost.json()["error"]
    assert client.get(url).status_code == 405


def test_a_draft_keeps_the_form_and_extends_the_lease(acme, annotator, leased):
    now = timezone.now() + timedelta(minutes=10)
    fields = {
        "choice": ["B"],
        "rationale": ["Half written"],
        "csrfmiddlewaretoken": ["x"],
        "idempotency_key": ["k"],
    }
    draft = draft_save(assignment=leased, expert=annotator, fields=fields, now=now)
    assert draft.fields == {"choice": ["B"], "rationale": ["Half written"]}  # no tokens or keys kept
    assert Assignment.objects.get(pk=leased.pk).expires_at == now + timedelta(minutes=acme.lease_minutes)
    draft_save(assignment=leased, expert=annotator, fields={"choice": ["A"]})
    assert Draft.objects.get(assignment=leased).fields == {"choice": ["A"]}  # one draft, the latest


def test_an_oversized_draft_is_refused_and_changes_nothing(annotator, leased):
    draft_save(assignment=leased, expert=annotator, fields={"rationale": ["kept"]})
    with pytest.raises(ValidationError, match="larger than"):
        draft_save(assignment=leased, expert=annotator, fields={"rationale": ["x" * (DRAFT_MAX_CHARS + 1)]})
    assert Draft.objects.get(assignment=leased).fields == {"rationale": ["kept"]}


@pytest.mark.parametrize("outcome", ["submit", "skip"])
def test_the_draft_goes_when_the_item_is_submitted_or_skipped(annotator, leased, outcome):
    draft_save(assignment=leased, expert=annotator, fields={"rationale": ["draft"]})
    if outcome == "submit":
        annotation_submit(
            assignment=leased, expert=annotator, judgment=Judgment("A", 1, ""), idempotency_key=uuid.uuid4()
        )
    else:
        assignment_skip(assignment=leased, expert=annotator, reason="unsure")
    assert not Draft.objects.filter(assignment=leased).exists()


def test_the_page_autosaves_to_the_draft_url_and_puts_the_draft_back_after_a_reload(
    client, acme, annotator, leased
):
    client.force_login(annotator)
    draft_url = reverse("annotations:draft", args=[acme.code, leased.pk])
    page = client.get(reverse("annotations:label", args=[acme.code])).content.decode()
    assert f'data-draft-url="{draft_url}"' in page and 'id="task-draft"' not in page
    saved = client.post(draft_url, {"choice": "B", "rationale": "Response B cites <the> source"})
    assert saved.status_code == 200 and saved.json()["saved_at"]
    # A reload, or a new login after a crash: the same item, with the draft for the page to restore.
    client.logout()
    client.force_login(annotator)
    for headers in ({}, HTMX):
        page = client.get(reverse("annotations:label", args=[acme.code]), **headers).content.decode()
        script = page.split('<script id="task-draft" type="application/json">')[1].split("</script>")[0]
        assert json.loads(script) == {"choice": ["B"], "rationale": ["Response B cites <the> source"]}
        assert "<the>" not in script  # escaped inside the page


def test_an_error_on_submit_keeps_what_was_typed_and_says_what_is_wrong(client, acme, annotator, leased):
    client.force_login(annotator)
    acme.rationale_required = True
    acme.save()
    response = client.post(
        reverse("annotations:submit", args=[acme.code, leased.pk]),
        {"choice": "A", "strength": "3", "rationale": "", "idempotency_key": str(uuid.uuid4())},
        **HTMX,
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert "This project requires a rationale." in page
    assert 'value="A" data-key="1" checked' in page and 'value="3" data-key="e" checked' in page
    assert 'id="task-draft"' not in page  # the posted form is shown, not an older draft


def test_a_draft_for_a_lost_lease_is_answered_409(client, acme, annotator, annotator2, leased):
    client.force_login(annotator)
    lapse(leased)
    assignment_next(project=acme, expert=annotator2)
    answer = client.post(reverse("annotations:draft", args=[acme.code, leased.pk]), {"choice": "A"})
    assert answer.status_code == 409 and not Draft.objects.exists()
