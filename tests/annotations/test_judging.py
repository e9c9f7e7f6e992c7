"""A judgment is checked in one place: the labelling page, the API and the submission service
refuse the same judgment with the same message, field by field, and store nothing."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from annotations.forms import LabelForm
from annotations.models import ACTIVE_SECONDS_MAX, Annotation
from annotations.services import Judgment, annotation_submit, assignment_next
from tests.conftest import api_for

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize(
    ("sent", "judgment", "field", "message"),
    [
        ({"strength": 2}, Judgment("", 2, ""), "choice", "Choose A, B, tie or both bad."),
        (
            {"choice": "A", "strength": 7},
            Judgment("A", 7, ""),
            "strength",
            "Say how much better: slightly, clearly or much.",
        ),
        (
            {"choice": "A", "strength": 1, "active_seconds": ACTIVE_SECONDS_MAX + 1},
            Judgment("A", 1, "", active_seconds=ACTIVE_SECONDS_MAX + 1),
            "active_seconds",
            f"The active time must be 0 to {ACTIVE_SECONDS_MAX:,} seconds.",
        ),
        (
            {"choice": "A", "strength": 1, "rationale": " A is right. ", "pasted_chars": 12},
            Judgment("A", 1, " A is right. ", pasted_chars=12),
            "pasted_chars",
            "The pasted characters must be a whole number from 0 to the length of the rationales (11 here).",
        ),
    ],
)
def test_the_page_the_api_and_the_service_refuse_a_judgment_with_one_message(
    client, acme, acme_items, annotator, sent, judgment, field, message
):
    assignment = assignment_next(project=acme, expert=annotator)
    client.force_login(annotator)
    page = client.post(
        reverse("annotations:submit", args=[acme.code, assignment.pk]),
        {**{name: str(value) for name, value in sent.items()}, "idempotency_key": str(uuid.uuid4())},
        **HTMX,
    )
    assert page.status_code == 422 and message in page.content.decode()
    response = api_for(annotator).post(
        reverse("annotations:api-submit", args=[acme.code, assignment.pk]),
        {**sent, "idempotency_key": str(uuid.uuid4())},
        format="json",
    )
    assert (response.status_code, response.json()) == (400, {field: [message]})
    with pytest.raises(ValidationError) as refused:
        annotation_submit(
            assignment=assignment, expert=annotator, judgment=judgment, idempotency_key=uuid.uuid4()
        )
    assert refused.value.message_dict == {field: [message]}
    assert not Annotation.objects.exists()


def test_the_labelling_form_is_invalid_for_a_judgment_the_project_does_not_allow(acme, acme_items, annotator):
    acme.allow_tie = False
    acme.save()
    assignment = assignment_next(project=acme, expert=annotator)
    data = {"choice": "tie", "idempotency_key": str(uuid.uuid4())}
    form = LabelForm(data, project=acme, item=assignment.item)
    assert not form.is_valid()
    assert form.errors["choice"] == ["This project does not allow ties; choose the better response."]
    data["choice"] = "B"
    data["strength"] = "2"
    form = LabelForm(data, project=acme, item=assignment.item)
    assert form.is_valid() and form.cleaned_data["judgment"] == Judgment("B", 2, "")
