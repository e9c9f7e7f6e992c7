"""What managers see and do about experts the quality controls hold back: each expert's status and
qualification result in the quality report, page and API; reinstating an expert or allowing a
retake from the quality page; the notice on the project page; the admin's read-only records."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from annotations.eligibility import qualification_answers
from labelhub.models import AuditEvent
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Membership, Project
from quality.frames import judgment_frames
from quality.models import QualificationAttempt
from quality.report import project_quality
from quality.services import qualification_retake_allow
from tests.conftest import api_for, member
from tests.factories import ItemFactory
from tests.quality.test_controls import answer, gold_item, membership_of

QualityStatus = Membership.QualityStatus
Action = AuditEvent.Action
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def qualified(acme: Project):
    """Acme asks for a 3-item qualification (pass mark 80%) from a pool of 5, and has real work,
    some of it gold checks."""
    Project.objects.filter(pk=acme.pk).update(qualification_items=3, qualification_pass_percent=80)
    acme.refresh_from_db()
    for n in range(5):
        gold_item(acme, f"q-{n}", qualification=True)
    for n in range(4):
        ItemFactory(project=acme, external_id=f"w-{n}")
    return acme


def fail_qualification(project, expert) -> None:
    for correct in (True, False, False):
        answer(project, expert, correct=correct)
    assert membership_of(project, expert).quality_status == QualityStatus.FAILED


def pass_qualification(project, expert) -> None:
    for _ in range(3):
        answer(project, expert, correct=True)
    assert membership_of(project, expert).qualified_at is not None


def pause(project, expert) -> None:
    Membership.objects.filter(project=project, user=expert).update(
        quality_status=QualityStatus.PAUSED, quality_changed_at=timezone.now()
    )


def rows_by_username(report) -> dict[str, dict]:
    return {row["username"]: row for row in report.experts}


# --- the report: every expert, their status, their qualification ---


def test_every_expert_has_a_row_with_their_status_even_without_labels(qualified, annotator, annotator2):
    answer(qualified, annotator2, correct=True)  # one qualification answer given, no label
    rows = rows_by_username(project_quality(qualified, identify_experts=True))
    assert set(rows) == {annotator.username, annotator2.username}
    fresh, started = rows[annotator.username], rows[annotator2.username]
    assert (fresh["status"], fresh["labels"], fresh["qualification"]) == (
        "qualifying",
        0,
        {"attempts": 0, "latest": None, "current": {"answered": 0}},
    )
    assert (started["status"], started["labels"], started["gold_answered"]) == ("qualifying", 0, 0)
    assert started["qualification"]["current"] == {"answered": 1}


def test_a_failed_expert_shows_their_result_and_a_passed_one_theirs(qualified, annotator, annotator2):
    fail_qualification(qualified, annotator)
    pass_qualification(qualified, annotator2)
    rows = rows_by_username(project_quality(qualified, identify_experts=True))
    failed, passed = rows[annotator.username], rows[annotator2.username]
    assert failed["status"] == "failed" and failed["labels"] == 0
    latest = failed["qualification"]["latest"]
    assert (latest["passed"], latest["correct"], latest["answered"], latest["pass_percent"]) == (
        False,
        1,
        3,
        80,
    )
    assert latest["percent"] == pytest.approx(100 / 3)
    assert latest["finished_at"] == QualificationAttempt.objects.get(expert=annotator).finished_at
    assert failed["qualification"]["current"] is None
    assert passed["status"] == "active" and passed["qualification"]["latest"]["passed"] is True


def test_a_retakes_answers_so_far_count_only_the_current_attempt(qualified, annotator, manager):
    fail_qualification(qualified, annotator)
    qualification_retake_allow(project=qualified, expert=annotator, by=manager)
    answer(qualified, annotator, correct=True)
    [row] = project_quality(qualified, identify_experts=True).experts
    assert row["status"] == "qualifying"
    assert row["qualification"]["attempts"] == 1 and row["qualification"]["latest"]["passed"] is False
    # The same count as the rule that grades the attempt.
    since = membership_of(qualified, annotator).retake_after
    in_attempt = qualification_answers(project=qualified, expert=annotator, since=since).count()
    assert row["qualification"]["current"] == {"answered": in_attempt} == {"answered": 1}


def test_a_paused_expert_is_paused_and_a_project_without_a_qualification_has_none(
    acme, acme_items, annotator, annotator2
):
    answer(acme, annotator, correct=True)
    pause(acme, annotator)
    rows = rows_by_username(project_quality(acme, identify_experts=True))
    assert rows[annotator.username]["status"] == "paused"
    assert rows[annotator2.username]["status"] == "active"
    assert {row["qualification"] for row in rows.values()} == {None}


def test_qualification_answers_count_in_no_figure(qualified, annotator, annotator2):
    # Both experts give every qualification item's answer the same way: were they labels, the
    # report would count them, with gold accuracy and agreement over them.
    pass_qualification(qualified, annotator)
    pass_qualification(qualified, annotator2)
    frames = judgment_frames(qualified)
    assert frames.choices.empty and frames.strengths.empty
    rows = rows_by_username(project_quality(qualified, identify_experts=True))
    assert [(row["labels"], row["gold_answered"], row["gold_accuracy"]) for row in rows.values()] == [
        (0, 0, None),
        (0, 0, None),
    ]
    answer(qualified, annotator, correct=True)  # a real label now
    assert (
        rows_by_username(project_quality(qualified, identify_experts=True))[annotator.username]["labels"] == 1
    )


def test_a_member_in_another_role_has_no_row(qualified, manager, viewer, annotator):
    report = project_quality(qualified, identify_experts=True)
    assert [row["username"] for row in report.experts] == [annotator.username]


# --- the API ---


def quality_api(project) -> str:
    return reverse("quality:api-quality", kwargs={"slug": project.slug})


def test_the_api_gives_each_experts_status_and_qualification(qualified, manager, annotator, annotator2):
    fail_qualification(qualified, annotator)
    body = api_for(manager).get(quality_api(qualified)).json()
    rows = {row["username"]: row for row in body["experts"]}
    assert rows[annotator.username]["status"] == "failed"
    latest = rows[annotator.username]["qualification"]["latest"]
    assert (latest["passed"], latest["correct"], latest["answered"]) == (False, 1, 3)
    assert latest["finished_at"].endswith("Z")
    assert rows[annotator2.username]["qualification"] == {
        "attempts": 0,
        "latest": None,
        "current": {"answered": 0},
    }
    # The page's row ids are for the page's actions, not the API's.
    assert all("user_id" not in row for row in body["experts"])


def test_client_viewers_get_statuses_by_pseudonym_only(qualified, viewer, annotator):
    fail_qualification(qualified, annotator)
    body = api_for(viewer).get(quality_api(qualified)).json()
    [row] = body["experts"]
    assert row["annotator"] == annotator_pseudonym(project_id=qualified.pk, user_id=annotator.pk)
    assert row["status"] == "failed" and "username" not in row and "user_id" not in row
    assert annotator.username not in str(body)


def test_the_schema_names_the_statuses():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    assert components["ExpertQuality"]["properties"]["status"]["allOf"] == [
        {"$ref": "#/components/schemas/ExpertStatusEnum"}
    ]
    assert components["ExpertStatusEnum"]["enum"] == ["active", "failed", "paused", "qualifying"]
    assert "qualification" in components["ExpertQuality"]["properties"]


# --- the quality page ---


def quality_page(project) -> str:
    return reverse("quality:project", args=[project.code])


def reinstate_url(project, user) -> str:
    return reverse("quality:expert-reinstate", args=[project.code, user.pk])


def retake_url(project, user) -> str:
    return reverse("quality:expert-retake", args=[project.code, user.pk])


def test_managers_see_status_qualification_and_the_actions_each_row_allows(
    client, qualified, manager, annotator, annotator2
):
    fail_qualification(qualified, annotator)
    pass_qualification(qualified, annotator2)
    paused = member(qualified, "acme-expert3", Membership.Role.EXPERT)
    pause(qualified, paused)
    client.force_login(manager)
    page = client.get(quality_page(qualified)).content.decode()
    assert "did not pass the qualification" in page and "gold accuracy below the bar" in page
    assert "failed 1/3 (33%)" in page and "pass mark 80%" in page and "passed 3/3 (100%)" in page
    assert page.count('data-testid="reinstate"') == 2  # the failed and the paused expert
    assert page.count('data-testid="retake"') == 1  # the failed one only
    assert reinstate_url(qualified, annotator) in page and retake_url(qualified, annotator) in page
    assert reinstate_url(qualified, paused) in page and retake_url(qualified, paused) not in page
    assert reinstate_url(qualified, annotator2) not in page
    assert 'hx-confirm="Reinstate acme-expert?' in page


def test_client_viewers_see_statuses_by_pseudonym_and_no_actions(client, qualified, viewer, annotator):
    fail_qualification(qualified, annotator)
    client.force_login(viewer)
    page = client.get(quality_page(qualified)).content.decode()
    assert "did not pass the qualification" in page
    assert annotator_pseudonym(project_id=qualified.pk, user_id=annotator.pk) in page
    assert annotator.username not in page
    assert 'data-testid="reinstate"' not in page and "/experts/" not in page


def test_the_page_states_the_quality_settings(client, qualified, manager):
    Project.objects.filter(pk=qualified.pk).update(
        qualification_cooloff_days=2, gold_percent=10, gold_min=12, gold_bar_percent=75
    )
    client.force_login(manager)
    page = client.get(quality_page(qualified)).content.decode()
    assert "3 items before real work, pass mark 80%; 5 qualification items in the pool" in page
    assert "after 2 days, on other items" in page
    assert "after 12 gold answers" in page and "below 75%" in page
    assert 'data-testid="pool-warning"' not in page


def test_the_page_warns_when_the_qualification_pool_is_smaller_than_asked(client, qualified, manager):
    Project.objects.filter(pk=qualified.pk).update(qualification_items=8)
    client.force_login(manager)
    page = client.get(quality_page(qualified)).content.decode()
    assert 'data-testid="pool-warning"' in page
    assert "asks for 8 items, but only 5 are marked as qualification items" in page


def test_a_project_without_a_qualification_shows_no_qualification_column(client, acme, manager, annotator):
    client.force_login(manager)
    page = client.get(quality_page(acme)).content.decode()
    assert "none: experts start on real work" in page
    assert 'data-testid="expert-qualification"' not in page and 'data-testid="pool-warning"' not in page


# --- reinstating and allowing a retake ---


def test_reinstating_asks_first_without_javascript(client, acme, acme_items, manager, annotator):
    pause(acme, annotator)
    client.force_login(manager)
    response = client.get(reinstate_url(acme, annotator))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Reinstate acme-expert on this project?" in page
    assert f'action="{reinstate_url(acme, annotator)}"' in page and 'method="post"' in page
    assert membership_of(acme, annotator).quality_status == QualityStatus.PAUSED  # asking changed nothing


def test_a_manager_reinstates_a_paused_expert_with_the_plain_form(
    client, acme, acme_items, manager, annotator
):
    pause(acme, annotator)
    client.force_login(manager)
    response = client.post(reinstate_url(acme, annotator), follow=True)
    assert response.redirect_chain == [(quality_page(acme), 302)]
    page = response.content.decode()
    assert "acme-expert is reinstated: they are served items again." in page
    assert membership_of(acme, annotator).quality_status == QualityStatus.ACTIVE
    event = AuditEvent.objects.get(action=Action.EXPERT_RESUMED, project_id=acme.pk)
    assert (event.actor, event.target, event.detail) == (manager, "expert acme-expert", {"was": "paused"})
    assert event.ip_address == "127.0.0.1"


def test_a_manager_reinstates_with_htmx_and_gets_the_table_back(client, qualified, manager, annotator):
    fail_qualification(qualified, annotator)
    client.force_login(manager)
    response = client.post(reinstate_url(qualified, annotator), **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section class="card" id="experts"') and "<html" not in fragment
    assert "acme-expert is reinstated" in fragment
    assert 'data-status="active"' in fragment and 'data-testid="reinstate"' not in fragment
    # A failed qualification is waived: the expert goes to real work, and the row says so.
    assert "waived by a manager" in fragment
    membership = membership_of(qualified, annotator)
    assert membership.quality_status == QualityStatus.ACTIVE and membership.qualified_at is not None
    assert AuditEvent.objects.get(action=Action.EXPERT_RESUMED).detail == {"was": "failed"}


def test_a_manager_allows_a_retake_now_with_and_without_htmx(
    client, qualified, manager, annotator, annotator2
):
    Project.objects.filter(pk=qualified.pk).update(qualification_cooloff_days=30)
    qualified.refresh_from_db()
    fail_qualification(qualified, annotator)
    client.force_login(manager)
    response = client.post(retake_url(qualified, annotator), follow=True)
    assert "acme-expert may retake the qualification now." in response.content.decode()
    membership = membership_of(qualified, annotator)
    assert membership.quality_status == QualityStatus.FAILED and membership.retake_after <= timezone.now()
    assert answer(qualified, annotator, correct=True).item.is_qualification  # the retake is open

    fail_qualification(qualified, annotator2)
    fragment = client.post(retake_url(qualified, annotator2), **HTMX).content.decode()
    assert "acme-expert2 may retake the qualification now." in fragment
    assert fragment.count('data-status="qualifying"') == 2
    events = AuditEvent.objects.filter(action=Action.QUALIFICATION_RETAKE, actor=manager)
    assert sorted(events.values_list("target", flat=True)) == ["expert acme-expert", "expert acme-expert2"]


def test_reinstating_an_expert_who_is_not_held_back_says_so_and_changes_nothing(
    client, acme, acme_items, manager, annotator
):
    client.force_login(manager)
    before = list(Membership.objects.values())
    for extra in ({}, HTMX):
        response = client.post(reinstate_url(acme, annotator), **extra)
        assert response.status_code == 422
        assert "This expert is not paused and has not failed the qualification." in response.content.decode()
    assert list(Membership.objects.values()) == before
    assert not AuditEvent.objects.filter(action=Action.EXPERT_RESUMED).exists()


def test_a_retake_for_a_paused_expert_is_refused(client, acme, acme_items, manager, annotator):
    pause(acme, annotator)
    client.force_login(manager)
    response = client.post(retake_url(acme, annotator))
    assert response.status_code == 422
    assert "Only an expert who failed the qualification can retake it." in response.content.decode()
    assert membership_of(acme, annotator).quality_status == QualityStatus.PAUSED


@pytest.fixture
def reviewer(acme):
    return member(acme, "acme-reviewer", Membership.Role.REVIEWER)


@pytest.mark.parametrize("url", [reinstate_url, retake_url], ids=["reinstate", "retake"])
def test_members_who_may_not_manage_are_refused_and_outsiders_see_nothing(
    client, qualified, annotator, annotator2, viewer, reviewer, outsider, other_client_annotator, url
):
    fail_qualification(qualified, annotator)
    before = list(Membership.objects.values())
    for person, status in [
        (viewer, 403),
        (reviewer, 403),
        (annotator2, 403),
        (outsider, 404),
        (other_client_annotator, 404),
    ]:
        client.force_login(person)
        assert client.get(url(qualified, annotator)).status_code == status, person
        assert client.post(url(qualified, annotator)).status_code == status, person
        assert client.post(url(qualified, annotator), **HTMX).status_code == status, person
    assert list(Membership.objects.values()) == before
    assert not AuditEvent.objects.filter(action__in=[Action.EXPERT_RESUMED, Action.QUALIFICATION_RETAKE])


@pytest.mark.parametrize("url", [reinstate_url, retake_url], ids=["reinstate", "retake"])
def test_a_person_who_is_not_one_of_the_projects_experts_is_a_404(
    client, acme, globex, manager, viewer, annotator, outsider, other_client_annotator, url
):
    pause(globex, other_client_annotator)
    Membership.objects.filter(project=acme, user=annotator).update(
        quality_status=QualityStatus.PAUSED, ended_at=timezone.now()
    )
    client.force_login(manager)
    # Another client's expert, a former expert, someone on no project, a viewer, the manager.
    for person in (other_client_annotator, annotator, outsider, viewer, manager):
        assert client.get(url(acme, person)).status_code == 404, person
        assert client.post(url(acme, person)).status_code == 404, person
    assert membership_of(globex, other_client_annotator).quality_status == QualityStatus.PAUSED


def test_an_anonymous_visitor_is_sent_to_log_in(client, acme, annotator):
    pause(acme, annotator)
    response = client.post(reinstate_url(acme, annotator))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert membership_of(acme, annotator).quality_status == QualityStatus.PAUSED


# --- the notice on the project page ---


def test_the_project_page_tells_managers_and_viewers_who_is_held_back(
    client, qualified, manager, viewer, annotator, annotator2
):
    fail_qualification(qualified, annotator)
    pause(qualified, annotator2)
    pause(qualified, member(qualified, "acme-expert3", Membership.Role.EXPERT))
    overview = reverse("annotations:project", args=[qualified.code])
    client.force_login(manager)
    page = client.get(overview).content.decode()
    assert "2 experts are paused (gold accuracy below the bar), and 1 expert failed the qualification" in page
    assert f'href="{quality_page(qualified)}#experts"' in page and "where you may reinstate them" in page
    client.force_login(viewer)
    page = client.get(overview).content.decode()
    assert 'data-testid="held-back-notice"' in page and "where you may reinstate them" not in page


def test_the_project_page_says_nothing_when_nobody_is_held_back(client, qualified, manager, annotator):
    Project.objects.filter(pk=qualified.pk).update(qualification_cooloff_days=0)
    qualified.refresh_from_db()
    fail_qualification(qualified, annotator)  # failed, but a retake is open at once: qualifying
    client.force_login(manager)
    page = client.get(reverse("annotations:project", args=[qualified.code])).content.decode()
    assert 'data-testid="held-back-notice"' not in page


def test_the_notice_counts_one_paused_expert_in_the_singular(client, acme, manager, annotator):
    pause(acme, annotator)
    client.force_login(manager)
    page = client.get(reverse("annotations:project", args=[acme.code])).content.decode()
    assert "1 expert is paused (gold accuracy below the bar): they are served no items for now." in page


# --- the admin ---


def test_the_membership_admin_shows_the_quality_status_read_only_and_filters_on_it(
    client, acme, manager, annotator, annotator2
):
    pause(acme, annotator)
    client.force_login(manager)
    listing = client.get(reverse("admin:projects_membership_changelist"), {"quality_status": "paused"})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Paused (gold accuracy below the bar)" in page and "acme-expert2" not in page
    membership = membership_of(acme, annotator)
    shown = client.get(reverse("admin:projects_membership_change", args=[membership.pk])).content.decode()
    assert "Quality status" in shown and "Paused (gold accuracy below the bar)" in shown
    assert 'name="quality_status"' not in shown  # shown, never edited here


def test_managers_read_their_projects_qualification_attempts_only(
    client, qualified, globex, manager, annotator, other_client_annotator
):
    fail_qualification(qualified, annotator)
    theirs = QualificationAttempt.objects.create(
        project=globex,
        expert=other_client_annotator,
        started_at=timezone.now() - timedelta(minutes=5),
        finished_at=timezone.now(),
        answered=3,
        correct=3,
        required=3,
        pass_percent=80,
        passed=True,
    )
    ours = QualificationAttempt.objects.get(project=qualified)
    client.force_login(manager)
    listing = client.get(reverse("admin:quality_qualificationattempt_changelist")).content.decode()
    assert "acme-expert" in listing and "globex-expert" not in listing
    assert reverse("admin:quality_qualificationattempt_add") not in listing
    page = client.get(reverse("admin:quality_qualificationattempt_change", args=[ours.pk]))
    assert page.status_code == 200 and 'name="correct"' not in page.content.decode()
    assert client.post(
        reverse("admin:quality_qualificationattempt_change", args=[ours.pk]), {"correct": 3}
    ).status_code in (302, 403)
    assert QualificationAttempt.objects.get(pk=ours.pk).correct == 1
    assert (
        client.get(reverse("admin:quality_qualificationattempt_change", args=[theirs.pk])).status_code == 404
    )
    assert client.get(reverse("admin:quality_qualificationattempt_add")).status_code == 403


def test_reviewers_do_not_see_qualification_attempts(client, qualified, reviewer, annotator):
    fail_qualification(qualified, annotator)
    client.force_login(reviewer)
    assert client.get(reverse("admin:quality_qualificationattempt_changelist")).status_code == 403
