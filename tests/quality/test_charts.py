"""The quality page's charts show the report's own figures, to those who may see the page."""

import csv
import io
import random
import xml.etree.ElementTree as ET
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from annotations.models import Annotation
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Item
from quality.agreement import percent_agreement
from quality.bias import seconds_per_1k_chars
from quality.charts import CHARTS, SPEED_BINS, judged_annotations, speed_bins
from quality.frames import judgment_frames
from quality.report import project_quality
from tests.factories import ItemFactory
from tests.quality.test_report import CHOICES, judge_all

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def judged(acme, annotator, annotator2):
    return judge_twelve(acme, annotator, annotator2)


def judge_twelve(acme, annotator, annotator2):
    """12 items, both experts on each (the second disagreeing on two), two of them gold checks."""
    acme.labels_per_item = 2
    acme.randomize_sides = True
    acme.gold_bar_percent = 60
    acme.save()
    for n in range(len(CHOICES)):
        ItemFactory(project=acme, external_id=f"q-{n}")
    rng = random.Random(7)
    judge_all(acme, annotator, CHOICES, rng)
    judge_all(acme, annotator2, [*CHOICES[:10], "B", "B"], rng)
    for item in Item.objects.filter(project=acme).order_by("pk")[:2]:
        answer = item.annotations.get(expert=annotator).preference
        Item.objects.filter(pk=item.pk).update(is_gold=True, gold_answer={"preference": answer})
    return acme


def chart_url(project, chart: str, fmt: str) -> str:
    return reverse(f"quality:chart-{fmt}", kwargs={"code": project.code, "chart": chart})


def download_csv(client, project, chart: str) -> list[dict]:
    response = client.get(chart_url(project, chart, "csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


@pytest.mark.parametrize("chart", list(CHARTS))
def test_each_chart_downloads_as_well_formed_svg_named_for_the_project(client, judged, manager, chart):
    client.force_login(manager)
    response = client.get(chart_url(judged, chart, "svg"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Content-Disposition"] == f'attachment; filename="{judged.slug}-quality-{chart}.svg"'
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text


def test_the_gold_chart_data_are_the_reports_figures_with_the_gold_bar(client, judged, manager, annotator):
    client.force_login(manager)
    rows = download_csv(client, judged, "gold-accuracy")
    report = {row["username"]: row for row in project_quality(judged, identify_experts=True).experts}
    assert {row["annotator"] for row in rows} == set(report)
    for row in rows:
        expected = report[row["annotator"]]
        assert int(row["gold_answered"]) == expected["gold_answered"]
        assert number(row["gold_accuracy"]) == pytest.approx(expected["gold_accuracy"])
        interval = [number(row["interval_low"]), number(row["interval_high"])]
        assert interval == pytest.approx(expected["gold_interval"])
        assert number(row["gold_bar"]) == 0.6
    assert report[annotator.username]["gold_accuracy"] == 1.0


def test_the_gold_chart_draws_the_gold_bar_as_its_reference_line(client, judged, manager):
    client.force_login(manager)
    root = ET.fromstring(client.get(chart_url(judged, "gold-accuracy", "svg")).content)
    assert "gold bar 60%" in [text.text for text in root.iter(f"{SVG}text")]
    assert root.find(f".//{SVG}line[@class='chart-reference']") is not None


def test_the_left_share_data_are_the_reports(client, judged, manager):
    client.force_login(manager)
    rows = download_csv(client, judged, "left-share")
    report = {row["username"]: row for row in project_quality(judged, identify_experts=True).experts}
    for row in rows:
        assert number(row["left_share"]) == pytest.approx(report[row["annotator"]]["left_share"])
        assert number(row["left_p_value"]) == pytest.approx(report[row["annotator"]]["left_p_value"])


def test_client_viewers_see_pseudonyms_in_the_chart_data_and_drawing(client, judged, viewer, annotator):
    client.force_login(viewer)
    rows = download_csv(client, judged, "gold-accuracy")
    assert annotator_pseudonym(project_id=judged.pk, user_id=annotator.pk) in {r["annotator"] for r in rows}
    for chart in CHARTS:
        for fmt in ("svg", "csv"):
            assert annotator.username not in client.get(chart_url(judged, chart, fmt)).content.decode()


def test_the_weeks_agreement_is_the_agreement_of_the_items_finished_in_it(client, judged, manager):
    client.force_login(manager)
    (week,) = download_csv(client, judged, "agreement-weekly")  # everything was judged today
    assert int(week["items_judged_twice_or_more"]) == len(CHOICES)
    assert number(week["percent_agreement"]) == pytest.approx(
        percent_agreement(judgment_frames(judged).choices)
    )


def test_a_week_with_too_few_items_reads_not_enough_data_not_zero(client, judged, manager):
    # Half the items were finished a week earlier: neither week has ten items of its own.
    early = Item.objects.filter(project=judged).order_by("pk")[:6]
    for annotation in Annotation.objects.filter(item__in=early):
        Annotation.objects.filter(pk=annotation.pk).update(
            submitted_at=annotation.submitted_at - timedelta(days=7)
        )
    client.force_login(manager)
    weeks = download_csv(client, judged, "agreement-weekly")
    assert [int(w["items_judged_twice_or_more"]) for w in weeks] == [6, 6]
    assert [w["percent_agreement"] for w in weeks] == ["", ""]
    page = client.get(reverse("quality:project", kwargs={"code": judged.code})).content.decode()
    assert "no week has 10 items judged by two or more" in page


def test_the_speed_histogram_counts_every_timed_annotation_once(client, judged, manager):
    for n, annotation in enumerate(Annotation.objects.filter(project=judged).order_by("pk")):
        Annotation.objects.filter(pk=annotation.pk).update(active_seconds=5 + n)
    client.force_login(manager)
    rows = download_csv(client, judged, "speed")
    rates = seconds_per_1k_chars(judged_annotations(judged)).dropna()
    assert sum(int(row["annotations"]) for row in rows) == len(rates) == 2 * len(CHOICES)
    assert number(rows[0]["seconds_per_1k_chars_from"]) == 0
    assert number(rows[-1]["seconds_per_1k_chars_to"]) == pytest.approx(rates.max())


def test_the_slowest_annotations_share_one_last_bin_so_the_rest_keep_their_detail():
    bins = speed_bins(np.array([*range(1, 20), 1000.0]))
    assert len(bins) == SPEED_BINS + 1
    assert bins[-1][1:] == (1000.0, 1)
    assert sum(count for _, _, count in bins) == 20


def test_with_nothing_labelled_every_chart_says_not_enough_data(client, acme, manager):
    client.force_login(manager)
    page = client.get(reverse("quality:project", kwargs={"code": acme.code})).content.decode()
    assert page.count('data-testid="chart-empty"') == len(CHARTS)
    assert "<svg" not in page
    for chart in CHARTS:
        root = ET.fromstring(client.get(chart_url(acme, chart, "svg")).content)
        assert any("not enough data" in (text.text or "") for text in root.iter(f"{SVG}text"))
        assert len(client.get(chart_url(acme, chart, "csv")).content.decode().splitlines()) <= 1


def test_untimed_annotations_make_no_speed_histogram(client, judged, manager):
    client.force_login(manager)  # the submissions in the fixture record no active time
    page = client.get(reverse("quality:project", kwargs={"code": judged.code})).content.decode()
    assert "fewer than 10 annotations with a recorded time" in page
    assert 'class="chart-svg chart-gold-accuracy"' in page


def test_the_quality_page_draws_its_charts_inline_with_their_downloads(client, judged, manager):
    client.force_login(manager)
    page = client.get(reverse("quality:project", kwargs={"code": judged.code})).content.decode()
    for chart in ("gold-accuracy", "left-share", "agreement-weekly"):
        assert f'class="chart-svg chart-{chart}"' in page
        assert chart_url(judged, chart, "svg") in page
        assert chart_url(judged, chart, "csv") in page


def test_an_unknown_chart_is_not_found(client, judged, manager):
    client.force_login(manager)
    for fmt in ("svg", "csv"):
        assert client.get(chart_url(judged, "no-such-chart", fmt)).status_code == 404


def test_experts_may_not_download_the_charts_and_outsiders_do_not_learn_the_project_exists(
    client, judged, annotator, outsider
):
    client.force_login(annotator)
    assert client.get(chart_url(judged, "gold-accuracy", "svg")).status_code == 403
    client.force_login(outsider)
    assert client.get(chart_url(judged, "gold-accuracy", "svg")).status_code == 404
    assert client.get(chart_url(judged, "no-such-chart", "csv")).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, judged):
    assert client.get(chart_url(judged, "gold-accuracy", "svg")).status_code == 302


def test_past_the_users_rate_a_chart_download_answers_429(client, judged, manager, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    client.force_login(manager)
    statuses = [client.get(chart_url(judged, "left-share", "csv")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
