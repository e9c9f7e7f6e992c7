import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import Annotation, Assignment
from annotations.services import Judgment, LeaseLost, annotation_submit, assignment_next
from tests.factories import ItemFactory


def submit(assignment, expert, judgment=None, key=None):
    return annotation_submit(
        assignment=assignment,
        expert=expert,
        judgment=judgment or Judgment("A", 2, "Clearer."),
        idempotency_key=key or uuid.uuid4(),
    )


@pytest.mark.parametrize(
    ("shown_left", "choice", "stored"),
    [
        (0, "A", "a"),
        (0, "B", "b"),
        (1, "A", "b"),
        (1, "B", "a"),
        (1, "tie", "tie"),
        (0, "both_bad", "both_bad"),
    ],
)
def test_the_preference_is_stored_in_the_items_terms_whatever_side_was_shown(
    acme, acme_items, annotator, shown_left, choice, stored
):
    assignment = assignment_next(project=acme, expert=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(shown_left=shown_left)
    assignment.refresh_from_db()
    annotation = submit(assignment, annotator, Judgment(choice, 3, "")).annotation
    assert annotation.preference == stored
    assert annotation.strength == (3 if stored in ("a", "b") else None)


def test_it_records_the_guideline_version_rationale_and_active_time(acme, acme_items, annotator):
    annotation = submit(
        assignment_next(project=acme, expert=annotator),
        annotator,
        Judgment("B", 1, "  B cites the statute.  ", active_seconds=95),
    ).annotation
    assert annotation.guideline.version == 1
    assert annotation.rationale == "B cites the statute."
    assert annotation.active_seconds == 95
    assert annotation.assignment.status == Assignment.Status.SUBMITTED


def test_it_records_the_pasted_characters_up_to_the_whole_rationale(acme, acme_items, annotator):
    annotation = submit(
        assignment_next(project=acme, expert=annotator),
        annotator,
        Judgment("B", 1, "  B cites the statute.  ", pasted_chars=len("B cites the statute.")),
    ).annotation
    annotation.refresh_from_db()
    assert annotation.pasted_chars == 20
    assert submit(assignment_next(project=acme, expert=annotator), annotator).annotation.pasted_chars == 0


def test_the_database_refuses_a_negative_pasted_count(acme, acme_items, annotator):
    stored = submit(assignment_next(project=acme, expert=annotator), annotator).annotation
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.filter(pk=stored.pk).update(pasted_chars=-1)


def test_a_double_submit_with_one_key_stores_one_annotation_and_both_succeed(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    key = uuid.uuid4()
    first = submit(assignment, annotator, key=key)
    second = submit(assignment, annotator, key=key)
    assert first.created and not second.created
    assert second.annotation == first.annotation
    assert Annotation.objects.count() == 1


def test_a_retry_with_a_fresh_key_still_stores_one_annotation(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    first = submit(assignment, annotator)
    retry = submit(assignment, annotator)
    assert not retry.created and retry.annotation == first.annotation
    assert Annotation.objects.count() == 1


def test_the_database_refuses_a_second_annotation_by_one_expert_on_one_item(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    stored = submit(assignment, annotator).annotation
    other = Assignment.objects.create(
        project=acme,
        item=acme_items[1],
        expert=annotator,
        leased_at=timezone.now(),
        expires_at=timezone.now(),
    )
    with pytest.raises(IntegrityError):
        Annotation.objects.create(
            project=acme, item=stored.item, expert=annotator, assignment=other, preference="a", strength=1
        )


def test_the_database_refuses_a_strength_on_a_tie(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    with pytest.raises(IntegrityError):
        Annotation.objects.create(
            project=acme,
            item=assignment.item,
            expert=annotator,
            assignment=assignment,
            preference="tie",
            strength=2,
        )


@pytest.mark.parametrize(
    ("settings_", "judgment", "field"),
    [
        ({}, Judgment("A", None, ""), "strength"),
        ({}, Judgment("left", 1, ""), "choice"),
        ({"allow_tie": False}, Judgment("tie", None, ""), "choice"),
        ({"allow_both_bad": False}, Judgment("both_bad", None, ""), "choice"),
        ({"rationale_required": True}, Judgment("A", 1, "   "), "rationale"),
    ],
)
def test_a_judgment_the_project_does_not_allow_is_refused_by_field(
    acme, acme_items, annotator, settings_, judgment, field
):
    for name, value in settings_.items():
        setattr(acme, name, value)
    acme.save()
    assignment = assignment_next(project=acme, expert=annotator)
    with pytest.raises(ValidationError) as refused:
        submit(assignment, annotator, judgment)
    assert field in refused.value.message_dict
    assert Annotation.objects.count() == 0


def test_a_late_submission_is_accepted_while_the_slot_is_still_free(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assignment.refresh_from_db()
    assert submit(assignment, annotator).created


def test_a_late_submission_is_refused_clearly_when_others_filled_the_slot(acme, annotator, annotator2):
    ItemFactory(project=acme)
    late = assignment_next(project=acme, expert=annotator)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    submit(assignment_next(project=acme, expert=annotator2), annotator2)
    late.refresh_from_db()
    with pytest.raises(LeaseLost, match="ran out"):
        submit(late, annotator)
    assert Annotation.objects.filter(expert=annotator).count() == 0


def test_nobody_can_submit_on_someone_elses_assignment(acme, acme_items, annotator, annotator2):
    assignment = assignment_next(project=acme, expert=annotator)
    with pytest.raises(ValidationError):
        submit(assignment, annotator2)
    assert Annotation.objects.count() == 0
