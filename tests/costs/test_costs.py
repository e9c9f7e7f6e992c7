"""Cost and margin, computed by hand on a small project: two experts on different rates, a paused
expert, a qualification answer; then a missing rate and a missing price, which make figures
unknown, never 0. Then who may see them, the CSV, the API and each expert's own work."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from annotations.models import Annotation, Assignment
from costs.queries import delivered, project_costs
from labelhub.models import ExpertProfile
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Membership, Project
from tests.conftest import api_for, member
from tests.factories import ItemFactory

DAY1, DAY2 = datetime(2025, 3, 3, 12, tzinfo=UTC), datetime(2025, 3, 4, 12, tzinfo=UTC)


def answered(project, expert, item, seconds: int, when: datetime) -> Annotation:
    """`expert`'s answer to `item`, `seconds` of active time, submitted at `when`."""
    assignment = Assignment.objects.create(
        project=project,
        item=item,
        expert=expert,
        status=Assignment.Status.SUBMITTED,
        leased_at=when - timedelta(seconds=seconds),
        expires_at=when + timedelta(minutes=30),
    )
    annotation = Annotation.objects.create(
        project=project,
        item=item,
        expert=expert,
        assignment=assignment,
        preference="a",
        active_seconds=seconds,
    )
    Annotation.objects.filter(pk=annotation.pk).update(submitted_at=when)
    return annotation


def rate(user, value: str | None) -> None:
    ExpertProfile.objects.filter(user=user).update(hourly_rate=None if value is None else Decimal(value))


@pytest.fixture
def paused(acme):
    user = member(acme, "acme-paused", Membership.Role.EXPERT)
    Membership.objects.filter(project=acme, user=user).update(quality_status=Membership.QualityStatus.PAUSED)
    return user


@pytest.fixture
def costed(acme, annotator, annotator2, paused) -> Project:
    """Price 40.00 a label. Day 1: the first expert (60.00/h) answers a qualification item (600 s)
    and labels w-0 (1,200 s); the second (30.00/h) labels w-0 (1,800 s). Day 2: the first labels
    w-1 (1,800 s); the paused expert (20.00/h) labels w-1 (3,600 s)."""
    Project.objects.filter(pk=acme.pk).update(price_per_label=Decimal("40.00"))
    acme.refresh_from_db()
    rate(annotator, "60.00")
    rate(annotator2, "30.00")
    rate(paused, "20.00")
    qualification = ItemFactory(
        project=acme, external_id="q-0", is_gold=True, gold_answer={"preference": "a"}, is_qualification=True
    )
    w0, w1 = (ItemFactory(project=acme, external_id=f"w-{n}") for n in range(2))
    answered(acme, annotator, qualification, 600, DAY1)
    answered(acme, annotator, w0, 1200, DAY1)
    answered(acme, annotator2, w0, 1800, DAY1)
    answered(acme, annotator, w1, 1800, DAY2)
    answered(acme, paused, w1, 3600, DAY2)
    return acme


def by_name(costs) -> dict:
    return {group.username: group.figures.as_dict() for group in costs.per_expert}


# --- the figures ---


def test_the_totals_are_hours_times_rates_against_delivered_labels_times_the_price(costed):
    total = project_costs(costed).total.as_dict()
    # 9,000 s = 2.5 h; 30 + 15 + 30 + 20 = 95.00 of cost; three delivered labels of 40.00.
    assert total == {
        "active_hours": Decimal("2.50"),
        "qualification_hours": Decimal("0.17"),
        "answers": 5,
        "qualification_answers": 1,
        "labels": 4,
        "delivered_labels": 3,
        "undelivered_labels": 1,
        "unpriced_hours": Decimal("0.00"),
        "cost": Decimal("95.00"),
        "revenue": Decimal("120.00"),
        "gross_margin": Decimal("25.00"),
        "margin_percent": Decimal("20.8"),
        "cost_per_delivered_label": Decimal("31.67"),
    }


def test_qualification_answers_and_a_paused_experts_labels_cost_and_earn_nothing(costed, annotator, paused):
    experts = by_name(project_costs(costed))
    first = experts[annotator.username]
    # The qualification answer's 600 s are paid: 3,600 s at 60.00; two labels delivered of three answers.
    assert (first["cost"], first["answers"], first["delivered_labels"]) == (Decimal("60.00"), 3, 2)
    assert (first["revenue"], first["margin_percent"]) == (Decimal("80.00"), Decimal("25.0"))
    mine = experts[paused.username]
    assert (mine["cost"], mine["delivered_labels"], mine["undelivered_labels"]) == (Decimal("20.00"), 0, 1)
    # No revenue: the margin is -20.00, its share of nothing unknown, and no label to cost.
    assert (mine["revenue"], mine["gross_margin"]) == (Decimal("0.00"), Decimal("-20.00"))
    assert mine["margin_percent"] is None and mine["cost_per_delivered_label"] is None


def test_each_day_has_its_own_margin_one_above_the_line_one_below(costed):
    days = project_costs(costed).per_day
    assert [group.key.isoformat() for group in days] == ["2025-03-03", "2025-03-04"]
    one, two = (group.figures for group in days)
    # Day 1: 45.00 of cost, 80.00 of revenue, 43.75 %; day 2: 50.00 against 40.00, -25 %.
    assert (one.as_dict()["cost"], one.as_dict()["gross_margin"], one.as_dict()["margin_percent"]) == (
        Decimal("45.00"),
        Decimal("35.00"),
        Decimal("43.8"),
    )
    assert (two.as_dict()["gross_margin"], two.as_dict()["margin_percent"]) == (
        Decimal("-10.00"),
        Decimal("-25.0"),
    )
    assert (one.below_target, two.below_target) == (False, True)


def test_money_is_summed_exactly_and_rounded_only_on_output(acme, annotator):
    Project.objects.filter(pk=acme.pk).update(price_per_label=Decimal("1.00"))
    acme.refresh_from_db()
    rate(annotator, "10.00")
    # Three answers of 1 s at 10.00/h: 0.00278 each, 0.00833 together: a cent once summed, never 0.
    for n in range(3):
        answered(acme, annotator, ItemFactory(project=acme, external_id=f"s-{n}"), 1, DAY1)
    total = project_costs(acme).total
    assert total.cost == Decimal(3) * Decimal(10) / Decimal(3600)
    assert total.as_dict()["cost"] == Decimal("0.01")


def test_an_expert_with_no_hourly_rate_makes_the_cost_unknown_not_zero(costed, annotator2):
    rate(annotator2, None)
    costs = project_costs(costed)
    total = costs.total.as_dict()
    assert total["cost"] is None and total["gross_margin"] is None and total["margin_percent"] is None
    assert total["cost_per_delivered_label"] is None and total["revenue"] == Decimal("120.00")
    assert total["unpriced_hours"] == Decimal("0.50") and costs.total.priced_cost == Decimal(80)
    assert [group.username for group in costs.unpriced_experts] == [annotator2.username]
    assert by_name(costs)[annotator2.username]["cost"] is None
    # Only the day the expert worked is unknown.
    assert [group.figures.cost for group in costs.per_day] == [None, Decimal(50)]


def test_a_project_with_no_price_has_no_revenue_nor_margin_but_a_known_cost(costed):
    Project.objects.filter(pk=costed.pk).update(price_per_label=None)
    costed.refresh_from_db()
    total = project_costs(costed).total.as_dict()
    assert total["cost"] == Decimal("95.00") and total["cost_per_delivered_label"] == Decimal("31.67")
    assert total["revenue"] is None and total["gross_margin"] is None and total["margin_percent"] is None


def test_delivered_labels_are_those_the_export_keeps_by_default(costed, paused):
    from annotations.exports import PairOptions, export_lines

    raw = list(export_lines(costed, "annotations", PairOptions()))
    assert Annotation.objects.filter(delivered(costed), project=costed).count() == len(raw) == 3
    # Reinstated, the paused expert's label is delivered again.
    Membership.objects.filter(user=paused).update(quality_status=Membership.QualityStatus.ACTIVE)
    assert project_costs(costed).total.delivered == 4


# --- the page ---


def page(project) -> str:
    return reverse("costs:project", args=[project.code])


def test_the_manager_sees_the_figures_per_expert_and_per_day_with_the_30_percent_line(
    client, costed, manager, annotator
):
    client.force_login(manager)
    overview = client.get(reverse("annotations:project", args=[costed.code])).content.decode()
    assert page(costed) in overview
    response = client.get(page(costed))
    text = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="total-cost">$95.00<' in text and 'data-testid="total-revenue">$120.00<' in text
    assert 'data-testid="total-margin-percent" class="below-target">20.8 %<' in text
    assert "below the 30 % the business needs" in text
    assert text.count('data-testid="cost-expert-row"') == 3 and annotator.username in text
    assert text.count('data-testid="cost-day-row"') == 2
    assert 'data-testid="target-line"' in text and 'class="bar above"' in text and 'class="bar below"' in text
    assert "come with the review of labels" in text
    # The CSP: nothing inline.
    assert "<script>" not in text and " style=" not in text


def test_the_page_says_which_figures_are_unknown_and_why(client, costed, manager, annotator2):
    rate(annotator2, None)
    Project.objects.filter(pk=costed.pk).update(price_per_label=None)
    client.force_login(manager)
    text = client.get(page(costed)).content.decode()
    assert 'data-testid="total-cost">unknown<' in text and 'data-testid="total-revenue">unknown<' in text
    assert f"no hourly rate for {annotator2.username}" in text
    assert "the project has no price per label yet" in text
    assert 'data-testid="no-chart"' in text


def test_a_project_without_answers_has_an_empty_state(client, acme, manager):
    client.force_login(manager)
    text = client.get(page(acme)).content.decode()
    assert "Nobody has answered anything yet" in text and 'data-testid="cost-experts"' not in text


def test_only_managers_and_staff_see_costs(client, costed, manager, staff, viewer, annotator, outsider):
    reviewer = member(costed, "acme-reviewer", Membership.Role.REVIEWER)
    for url in (page(costed), reverse("costs:csv", args=[costed.code])):
        for user, status in ((manager, 200), (staff, 200), (viewer, 403), (annotator, 403), (reviewer, 403)):
            client.force_login(user)
            assert client.get(url).status_code == status, (user.username, url)
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(viewer)
    overview = client.get(reverse("annotations:project", args=[costed.code])).content.decode()
    assert page(costed) not in overview  # no link where the door is shut


def test_the_costs_page_and_csv_are_under_the_per_user_rate(client, costed, manager, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "1/min", "anon": "1/min"})
    client.force_login(manager)
    assert client.get(page(costed)).status_code == 200
    assert client.get(reverse("costs:csv", args=[costed.code])).status_code == 429


# --- the CSV ---


def test_the_csv_has_one_row_per_day_and_expert_with_the_figures(client, costed, manager, annotator, paused):
    client.force_login(manager)
    response = client.get(reverse("costs:csv", args=[costed.code]))
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{costed.code}-costs.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(row["day"], row["expert"]) for row in rows] == [
        ("2025-03-03", "acme-expert"),
        ("2025-03-03", "acme-expert2"),
        ("2025-03-04", "acme-expert"),
        ("2025-03-04", "acme-paused"),
    ]
    first = rows[0]
    assert first["annotator"] == annotator_pseudonym(project_id=costed.pk, user_id=annotator.pk)
    assert (first["hourly_rate"], first["active_hours"], first["answers"], first["delivered_labels"]) == (
        "60.00",
        "0.50",
        "2",
        "1",
    )
    assert (first["cost"], first["revenue"], first["gross_margin"], first["margin_percent"]) == (
        "30.00",
        "40.00",
        "10.00",
        "25.0",
    )
    last = rows[-1]
    assert (last["cost"], last["revenue"], last["margin_percent"], last["cost_per_delivered_label"]) == (
        "20.00",
        "0.00",
        "",
        "",
    )


def test_an_unknown_figure_is_an_empty_cell_and_a_username_is_never_a_formula(
    client, costed, manager, annotator2
):
    from labelhub.models import User

    rate(annotator2, None)
    User.objects.filter(pk=annotator2.pk).update(username="=HYPERLINK(1)")
    client.force_login(manager)
    rows = list(
        csv.DictReader(io.StringIO(client.get(reverse("costs:csv", args=[costed.code])).content.decode()))
    )
    theirs = [row for row in rows if row["expert"].endswith("HYPERLINK(1)")]
    assert [row["expert"] for row in theirs] == ["'=HYPERLINK(1)"]
    assert (theirs[0]["hourly_rate"], theirs[0]["cost"], theirs[0]["gross_margin"]) == ("", "", "")
    assert theirs[0]["revenue"] == "40.00"


# --- the API ---


def api_url(project) -> str:
    return reverse("costs:api-costs", args=[project.slug])


def test_the_api_gives_totals_experts_and_days_as_the_page_does(costed, manager, annotator):
    response = api_for(manager).get(api_url(costed))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"currency", "price_per_label", "margin_target_percent", "totals", "experts", "days"}
    assert (body["currency"], body["price_per_label"], body["margin_target_percent"]) == (
        "USD",
        "40.00",
        "30.0",
    )
    assert body["totals"]["cost"] == "95.00" and body["totals"]["margin_percent"] == "20.8"
    assert [day["day"] for day in body["days"]] == ["2025-03-03", "2025-03-04"]
    first = next(row for row in body["experts"] if row["username"] == annotator.username)
    assert first["hourly_rate"] == "60.00" and first["delivered_labels"] == 2
    assert first["annotator"] == annotator_pseudonym(project_id=costed.pk, user_id=annotator.pk)


def test_the_api_gives_null_for_what_is_unknown(costed, manager, annotator2):
    rate(annotator2, None)
    body = api_for(manager).get(api_url(costed)).json()
    assert body["totals"]["cost"] is None and body["totals"]["revenue"] == "120.00"
    assert (
        next(row for row in body["experts"] if row["username"] == annotator2.username)["hourly_rate"] is None
    )


def test_the_api_is_for_managers_and_staff_only(
    costed, staff, viewer, annotator, outsider, other_client_annotator
):
    assert api_for(staff).get(api_url(costed)).status_code == 200
    assert api_for(viewer).get(api_url(costed)).status_code == 403
    # Experts know a project by its codename only: its slug names nothing to them.
    for user in (annotator, outsider, other_client_annotator):
        assert api_for(user).get(api_url(costed)).status_code == 404


# --- My work ---


def test_my_work_shows_an_expert_only_their_own_hours_labels_and_earnings(
    client, costed, annotator, annotator2
):
    client.force_login(annotator)
    home = client.get(reverse("annotations:home")).content.decode()
    assert reverse("costs:my-work") in home
    text = client.get(reverse("costs:my-work")).content.decode()
    assert text.count('data-testid="my-work-row"') == 1
    # 3,600 s at 60.00, the qualification answer's time included: 1.00 h, three answers, two delivered.
    assert "<td>Aurora</td><td>1.00</td><td>3</td><td>2</td><td>2</td>" in text
    assert 'data-testid="earnings-Aurora">$60.00<' in text
    # Nothing of the others, of the price, the client or a model.
    for secret in (
        annotator2.username,
        "acme-paused",
        "$40.00",
        "$120.00",
        "Acme",
        "acme-helpfulness",
        "model-",
    ):
        assert secret not in text


def test_my_work_says_when_earnings_are_unknown_and_when_there_is_nothing(client, costed, paused, outsider):
    rate(paused, None)
    client.force_login(paused)
    text = client.get(reverse("costs:my-work")).content.decode()
    assert "unknown until your hourly rate is agreed" in text
    assert "<td>Aurora</td><td>1.00</td><td>1</td><td>1</td><td>0</td>" in text  # paused: none delivered
    client.force_login(outsider)
    assert "You have not submitted anything yet" in client.get(reverse("costs:my-work")).content.decode()


def test_my_work_needs_a_login(client, db):
    response = client.get(reverse("costs:my-work"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("code", ["no-such-project", "a" * 500, "%C3%A9t%C3%A9", "..%2F..%2Fadmin"])
def test_a_crafted_project_code_or_slug_is_a_404_never_a_500(client, costed, manager, code):
    client.force_login(manager)
    for url in (f"/p/{code}/costs/", f"/p/{code}/costs.csv", f"/api/v1/projects/{code}/costs"):
        assert client.get(url).status_code == 404, url


def test_the_chart_draws_a_day_below_the_line_below_it_and_clamps_a_far_one_to_the_floor(costed, annotator):
    from costs.chart import margin_chart

    rate(annotator, "6000.00")  # day 2 now costs far more than it earns
    chart = margin_chart(project_costs(costed).per_day)
    one, two = chart.bars
    assert one.css_class == "below" and two.css_class == "below"
    assert two.y == chart.zero_y and two.y + two.height == pytest.approx(chart.height - 28)  # at the floor
    assert chart.ticks[0].label == "-100 %" and chart.target_y < chart.zero_y
    assert "%" in two.title and "-" in two.title  # the real figure, in the tooltip
