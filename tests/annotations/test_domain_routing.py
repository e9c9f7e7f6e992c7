"""Only vetted experts are sent items, and only items in their domains or with no domain.

The `acme` project holds one item per domain and one without; its experts differ only in their
vetting. The "items left" figure must always equal what serving actually hands out.
"""

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.eligibility import item_eligible, items_eligible_for
from annotations.models import Assignment
from annotations.progress import items_left_for
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.models import ExpertProfile
from labelhub.services import expert_reinstate, expert_suspend
from projects.models import Membership, Project
from projects.permissions import Perm, projects_for
from tests.conftest import member
from tests.factories import DomainFactory, ItemFactory, UserFactory

Status = ExpertProfile.Status
Role = Membership.Role
NOT_VETTED = [Status.APPLIED, Status.REJECTED, Status.SUSPENDED, "no profile"]
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\u2062\u2063"))


@pytest.fixture
def items(acme: Project) -> dict[str, str]:
    """external id → domain, created in this order (serving goes by creation order)."""
    domains = {"med-1": "medicine", "gen-1": "", "law-1": "law", "med-2": "medicine", "chem-1": "chemistry"}
    for external_id, domain in domains.items():
        ItemFactory(project=acme, external_id=external_id, domain=domain)
    return domains


def expert(project: Project, username: str, *domains: str, status: str = Status.VETTED):
    """A project expert whose profile has `status` and `domains` ("no profile": none at all)."""
    user = member(project, username, Role.EXPERT)
    profile = user.expert_profile
    if status == "no profile":
        profile.delete()
        return user
    profile.domains.set([DomainFactory(slug=slug) for slug in domains])
    ExpertProfile.objects.filter(pk=profile.pk).update(vetting_status=status)
    return user


def drain(project: Project, user) -> list[str]:
    """Label everything `user` is served, in order; the external ids served."""
    served = []
    while (assignment := assignment_next(project=project, expert=user)) is not None:
        served.append(assignment.item.external_id)
        annotation_submit(
            assignment=assignment, expert=user, judgment=Judgment("A", 1, ""), idempotency_key=uuid.uuid4()
        )
    return served


def left(project: Project, user) -> int:
    return items_left_for(expert=user, projects=Project.objects.filter(pk=project.pk)).get(project.pk, 0)


# --- who is served ---


@pytest.mark.parametrize("status", NOT_VETTED)
def test_an_expert_who_is_not_vetted_is_sent_nothing_and_has_nothing_left(acme, items, status):
    user = expert(acme, "hopeful", "medicine", "law", "chemistry", status=status)
    assert assignment_next(project=acme, expert=user) is None
    assert left(acme, user) == 0
    assert not Assignment.objects.exists()


@pytest.mark.parametrize(
    ("domains", "expected"),
    [
        ((), ["gen-1"]),
        (("medicine",), ["med-1", "gen-1", "med-2"]),
        (("law", "chemistry"), ["gen-1", "law-1", "chem-1"]),
        (("medicine", "law", "chemistry"), ["med-1", "gen-1", "law-1", "med-2", "chem-1"]),
    ],
)
def test_a_vetted_expert_is_sent_their_domains_and_the_items_without_one(acme, items, domains, expected):
    user = expert(acme, "specialist", *domains)
    assert left(acme, user) == len(expected)
    assert drain(acme, user) == expected
    assert left(acme, user) == 0


def test_an_item_in_a_domain_nobody_is_vetted_for_waits_for_such_an_expert(acme, items):
    ItemFactory(project=acme, external_id="astro-1", domain="astrology")
    generalist = expert(acme, "generalist", "medicine", "law", "chemistry")
    assert "astro-1" not in drain(acme, generalist)
    astrologer = expert(acme, "astrologer", "astrology")
    assert drain(acme, astrologer) == ["astro-1"]


def test_the_home_page_counts_match_serving_for_experts_with_different_domains(acme, items):
    doctor = expert(acme, "doctor", "medicine")
    lawyer = expert(acme, "lawyer", "law")
    applicant = expert(acme, "applicant", "law", status=Status.APPLIED)
    labelling = projects_for(doctor, Perm.LABEL)
    assert items_left_for(expert=doctor, projects=labelling) == {acme.pk: 3}
    assert items_left_for(expert=lawyer, projects=labelling) == {acme.pk: 2}
    assert items_left_for(expert=applicant, projects=labelling) == {}
    # labels_per_item is 1: the doctor's labels use up the shared domainless item.
    assert drain(acme, doctor) == ["med-1", "gen-1", "med-2"]
    assert left(acme, lawyer) == 1
    assert drain(acme, lawyer) == ["law-1"]


def test_staff_need_a_vetted_profile_to_be_served_too(acme, items):
    staff = UserFactory(username="operator", is_staff=True, expert_profile=None)
    assert projects_for(staff, Perm.LABEL).filter(pk=acme.pk).exists()
    assert assignment_next(project=acme, expert=staff) is None
    assert left(acme, staff) == 0
    vetted = UserFactory(username="vetted-operator", is_staff=True)
    assert assignment_next(project=acme, expert=vetted).item.external_id == "gen-1"


# --- status changes while working ---


def test_a_suspended_expert_loses_their_live_lease_and_another_expert_gets_the_item(acme, items, staff):
    doctor = expert(acme, "doctor", "medicine")
    colleague = expert(acme, "colleague", "medicine")
    lease = assignment_next(project=acme, expert=doctor)
    assert lease.item.external_id == "med-1"
    expert_suspend(profile=doctor.expert_profile, by=staff)
    # The lease is not resumed: the expert sees nothing, and its slot is free at once
    # (labels_per_item is 1, so it would otherwise block the item until it lapsed).
    assert assignment_next(project=acme, expert=doctor) is None
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED
    assert assignment_next(project=acme, expert=colleague).item.external_id == "med-1"


def test_a_reinstated_expert_is_served_again(acme, items, staff):
    doctor = expert(acme, "doctor", "medicine")
    expert_suspend(profile=doctor.expert_profile, by=staff)
    assert assignment_next(project=acme, expert=doctor) is None
    expert_reinstate(profile=doctor.expert_profile, by=staff)
    assert assignment_next(project=acme, expert=doctor).item.external_id == "med-1"


def test_an_expert_taken_off_a_domain_mid_lease_moves_on_to_an_item_they_may_still_label(acme, items):
    doctor = expert(acme, "doctor", "medicine")
    lease = assignment_next(project=acme, expert=doctor)
    assert lease.item.external_id == "med-1"
    doctor.expert_profile.domains.clear()
    assert assignment_next(project=acme, expert=doctor).item.external_id == "gen-1"
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED


def test_a_vetted_expert_keeps_their_live_lease(acme, items):
    doctor = expert(acme, "doctor", "medicine")
    first = assignment_next(project=acme, expert=doctor)
    assert assignment_next(project=acme, expert=doctor) == first
    first.refresh_from_db()
    assert first.status == Assignment.Status.ACTIVE


# --- what the expert is told ---


def visible(response) -> str:
    return response.content.decode().translate(INVISIBLE)


NOTICES = {
    Status.APPLIED: "awaiting vetting",
    Status.REJECTED: "application was not accepted",
    Status.SUSPENDED: "profile is suspended",
    "no profile": "has not been vetted yet",
}


@pytest.mark.parametrize("status", NOT_VETTED)
def test_the_label_page_tells_an_expert_who_is_not_vetted_why_nothing_comes(client, acme, items, status):
    client.force_login(expert(acme, "hopeful", "medicine", status=status))
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        page = visible(client.get(reverse("annotations:label", args=[acme.code]), **extra))
        assert NOTICES[status] in page
        assert "All done" not in page


@pytest.mark.parametrize("status", NOT_VETTED)
def test_my_projects_tells_an_expert_who_is_not_vetted_why_nothing_is_left(client, acme, items, status):
    client.force_login(expert(acme, "hopeful", "medicine", status=status))
    page = client.get(reverse("annotations:home")).content.decode()
    assert NOTICES[status] in page
    assert 'data-testid="left-Aurora">0<' in page


def test_a_vetted_expert_who_has_finished_sees_no_vetting_notice(client, acme, items):
    doctor = expert(acme, "doctor")
    drain(acme, doctor)
    client.force_login(doctor)
    label = visible(client.get(reverse("annotations:label", args=[acme.code])))
    home = client.get(reverse("annotations:home")).content.decode()
    assert "All done" in label
    assert 'data-testid="vetting-notice"' not in label and 'data-testid="vetting-notice"' not in home


def test_a_manager_who_labels_nothing_sees_no_vetting_notice(client, manager, acme):
    client.force_login(manager)
    manager.expert_profile.delete()
    assert 'data-testid="vetting-notice"' not in client.get(reverse("annotations:home")).content.decode()


def test_the_api_has_no_next_item_for_an_expert_who_is_not_vetted(acme, items):
    api = APIClient()
    api.force_authenticate(expert(acme, "hopeful", "medicine", status=Status.SUSPENDED))
    response = api.post(reverse("annotations:api-next", args=[acme.code]), {}, format="json")
    assert response.status_code == 204


def test_a_projects_required_domain_bars_experts_not_vetted_for_it(acme, items):
    acme.required_domain = "medicine"
    acme.save()
    lawyer = expert(acme, "lawyer", "law")
    doctor = expert(acme, "doctor", "medicine")
    assert drain(acme, lawyer) == [] and left(acme, lawyer) == 0
    assert drain(acme, doctor) == ["med-1", "gen-1", "med-2"]


@pytest.mark.parametrize("project_status", [Project.Status.ACTIVE, Project.Status.PAUSED])
@pytest.mark.parametrize("required", ["", "medicine", "law"])
@pytest.mark.parametrize(
    "domains", [None, frozenset(), frozenset({"medicine"}), frozenset({"medicine", "law"})]
)
def test_the_check_of_an_item_in_hand_agrees_with_the_query(acme, items, project_status, required, domains):
    """Submitting and resuming check one item in hand; serving filters with a query. Same rule."""
    Project.objects.filter(pk=acme.pk).update(status=project_status, required_domain=required)
    acme.refresh_from_db()
    queried = items_eligible_for(acme.items.all(), expert=None, domains=domains)
    by_query = set(queried.values_list("external_id", flat=True))
    in_hand = {
        item.external_id for item in acme.items.all() if item_eligible(item, project=acme, domains=domains)
    }
    assert in_hand == by_query
    if project_status == Project.Status.ACTIVE and domains and required in ("", "medicine"):
        assert by_query  # the rule lets some through, so agreeing is not trivially on nothing
