"""The project page's labels-per-day chart counts what the progress figures count, by outcome and day."""

import csv
import io
import random
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations.judging import Judgment
from annotations.models import Annotation
from annotations.progress import project_progress
from annotations.services import annotation_submit, assignment_next, assignment_skip
from tests.factories import ItemFactory

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def labelled(acme, annotator, annotator2):
    """Five items: the first expert says A, A, B, tie and skips one; the second says both bad once,
    two days earlier."""
    acme.labels_per_item = 2
    acme.save()
    for n in range(5):
        ItemFactory(project=acme, external_id=f"d-{n}")
    rng = random.Random(3)
    for choice in ("A", "A", "B", "tie"):
        assignment = assignment_next(project=acme, expert=annotator, rng=rng)
        annotation_submit(
            assignment=assignment,
            expert=annotator,
            judgment=Judgment(choice, 2 if choice in ("A", "B") else None, ""),
            idempotency_key=uuid.uuid4(),
        )
    assignment_skip(
        assignment=assignment_next(project=acme, expert=annotator, rng=rng), expert=annotator, reason="other"
    )
    assignment = assignment_next(project=acme, expert=annotator2, rng=rng)
    early = annotation_submit(
        assignment=assignment,
        expert=annotator2,
        judgment=Judgment("both_bad", None, ""),
        idempotency_key=uuid.uuid4(),
    )
    Annotation.objects.filter(pk=early.annotation.pk).update(submitted_at=timezone.now() - timedelta(days=2))
    return acme


def chart_url(project, fmt: str, chart: str = "labels-per-day") -> str:
    return reverse(f"annotations:chart-{fmt}", kwargs={"code": project.code, "chart": chart})


def test_labels_per_day_count_each_outcome_on_its_day_with_empty_days_in_between(client, labelled, manager):
    client.force_login(manager)
    response = client.get(chart_url(labelled, "csv"))
    assert response["Content-Disposition"] == f'attachment; filename="{labelled.slug}-labels-per-day.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    today = timezone.localdate()
    assert [row["day"] for row in rows] == [(today - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    counts = [{key: int(value) for key, value in row.items() if key != "day"} for row in rows]
    assert counts == [
        {"a": 0, "b": 0, "tie": 0, "both_bad": 1, "skip": 0},
        {"a": 0, "b": 0, "tie": 0, "both_bad": 0, "skip": 0},
        # Sides are in the item's terms: "A" and "B" were the sides as shown, so count them together.
        counts[2] | {"tie": 1, "both_bad": 0, "skip": 1},
    ]
    assert counts[2]["a"] + counts[2]["b"] == 3
    progress = project_progress(labelled)
    assert sum(row["a"] + row["b"] + row["tie"] + row["both_bad"] for row in counts) == progress.annotations
    assert sum(row["skip"] for row in counts) == progress.skips


def test_the_project_page_draws_labels_per_day_as_well_formed_svg(client, labelled, manager):
    client.force_login(manager)
    page = client.get(reverse("annotations:project", kwargs={"code": labelled.code})).content.decode()
    assert 'class="chart-svg chart-labels-per-day"' in page
    assert chart_url(labelled, "svg") in page
    response = client.get(chart_url(labelled, "svg"))
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.find(f"{SVG}title").text == "Labels per day, by outcome"
    assert len(root.findall(f"{SVG}g")) == 3  # a column per day


def test_with_nothing_labelled_the_chart_says_not_enough_data(client, acme, viewer):
    client.force_login(viewer)
    page = client.get(reverse("annotations:project", kwargs={"code": acme.code})).content.decode()
    assert "not enough data: nothing labelled yet" in page
    assert "<svg" not in page
    assert client.get(chart_url(acme, "csv")).content.decode() == "day,a,b,tie,both_bad,skip\n"


def test_only_those_who_see_the_project_page_download_its_chart(
    client, labelled, viewer, annotator, outsider
):
    client.force_login(viewer)
    assert client.get(chart_url(labelled, "svg")).status_code == 200
    client.force_login(annotator)
    assert client.get(chart_url(labelled, "svg")).status_code == 403
    client.force_login(outsider)
    assert client.get(chart_url(labelled, "csv")).status_code == 404


def test_an_unknown_chart_of_the_project_page_is_not_found(client, labelled, manager):
    client.force_login(manager)
    assert client.get(chart_url(labelled, "svg", chart="gold-accuracy")).status_code == 404
