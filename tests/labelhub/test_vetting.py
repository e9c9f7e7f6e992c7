"""Vetting experts: the state machine, who moved it and when, the audit trail, and the admin.

Personas: `root`, the operator's staff who vet; applicants and experts in every status; and a
project `manager`, who runs a project but has no say over who is vetted.
"""

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from labelhub.experts import expert_eligible_domains, expert_status
from labelhub.models import AuditEvent, Domain, ExpertProfile
from labelhub.services import (
    expert_profile_for,
    expert_reinstate,
    expert_reject,
    expert_suspend,
    expert_vet,
)
from tests.factories import DomainFactory, ExpertProfileFactory, UserFactory

Status = ExpertProfile.Status
Action = AuditEvent.Action
Move = Callable[..., ExpertProfile]

# Every allowed move: (service, from) → (to, audit action). Everything else is refused.
ALLOWED: dict[tuple[Move, str], tuple[str, str]] = {
    (expert_vet, Status.APPLIED): (Status.VETTED, Action.EXPERT_VETTED),
    (expert_reject, Status.APPLIED): (Status.REJECTED, Action.EXPERT_REJECTED),
    (expert_suspend, Status.VETTED): (Status.SUSPENDED, Action.EXPERT_SUSPENDED),
    (expert_reinstate, Status.SUSPENDED): (Status.VETTED, Action.EXPERT_REINSTATED),
}
TARGET: dict[Move, str] = {move: target for (move, _), (target, _) in ALLOWED.items()}
REFUSED = [(move, status) for move in TARGET for status in Status.values if (move, status) not in ALLOWED]


def name(value: object) -> str:
    return getattr(value, "__name__", str(value))


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, expert_profile=None)


def profile_in(status: str, username: str = "candidate", **fields) -> ExpertProfile:
    user = UserFactory(username=username, expert_profile=None)
    return ExpertProfileFactory(user=user, vetting_status=status, **fields)


# --- applying ---


def test_a_user_without_a_profile_applies_and_applying_again_changes_nothing(db):
    user = UserFactory(username="newcomer", expert_profile=None)
    assert expert_status(user=user) is None
    profile = expert_profile_for(user=user)
    assert (profile.vetting_status, profile.status_changed_by, profile.status_changed_at) == (
        Status.APPLIED,
        None,
        None,
    )
    assert expert_profile_for(user=user).pk == profile.pk
    assert ExpertProfile.objects.count() == 1


def test_asking_for_an_existing_profile_keeps_its_status(root):
    profile = profile_in(Status.SUSPENDED)
    assert expert_profile_for(user=profile.user).vetting_status == Status.SUSPENDED


# --- the state machine ---


@pytest.mark.parametrize(("move", "source"), list(ALLOWED), ids=lambda value: name(value))
def test_each_allowed_move_records_who_and_when_and_is_audited(root, move, source):
    profile = profile_in(source)
    before = timezone.now()
    returned = move(profile=profile, by=root)
    target, action = ALLOWED[(move, source)]
    profile.refresh_from_db()
    assert returned.vetting_status == profile.vetting_status == target
    assert profile.status_changed_by == root
    assert before <= profile.status_changed_at <= timezone.now()
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.target) == (action, root, "expert candidate")
    assert event.detail == {"from": source, "to": target}


@pytest.mark.parametrize(("move", "source"), REFUSED, ids=lambda value: name(value))
def test_every_other_move_is_refused_naming_where_it_came_from_and_went(root, move, source):
    profile = profile_in(source)
    with pytest.raises(ValidationError) as refused:
        move(profile=profile, by=root)
    message = " ".join(refused.value.messages)
    assert f"from {Status(source).label.lower()} to {Status(TARGET[move]).label.lower()}" in message
    profile.refresh_from_db()
    assert (profile.vetting_status, profile.status_changed_by) == (source, None)
    assert not AuditEvent.objects.exists()


def test_rejection_is_final(root):
    profile = profile_in(Status.APPLIED)
    expert_reject(profile=profile, by=root)
    for move in (expert_vet, expert_reinstate, expert_suspend, expert_reject):
        with pytest.raises(ValidationError):
            move(profile=profile, by=root)
    assert ExpertProfile.objects.get().vetting_status == Status.REJECTED


def test_an_expert_is_vetted_suspended_and_reinstated_with_each_step_on_the_record(root):
    other_staff = UserFactory(username="other-staff", is_staff=True, expert_profile=None)
    profile = profile_in(Status.APPLIED)
    expert_vet(profile=profile, by=root)
    expert_suspend(profile=profile, by=other_staff)
    expert_reinstate(profile=profile, by=root)
    assert (profile.vetting_status, profile.status_changed_by) == (Status.VETTED, root)
    trail = AuditEvent.objects.order_by("id").values_list("action", "actor__username")
    assert list(trail) == [
        (Action.EXPERT_VETTED, "root"),
        (Action.EXPERT_SUSPENDED, "other-staff"),
        (Action.EXPERT_REINSTATED, "root"),
    ]


def test_a_stale_copy_of_a_profile_cannot_move_it_a_second_time(root):
    profile = profile_in(Status.APPLIED)
    stale = ExpertProfile.objects.get(pk=profile.pk)
    expert_vet(profile=profile, by=root)
    # `stale` still says "applied"; the service reads the row afresh under a lock.
    with pytest.raises(ValidationError, match="from vetted to rejected"):
        expert_reject(profile=stale, by=root)
    assert ExpertProfile.objects.get().vetting_status == Status.VETTED


def test_a_move_leaves_the_rest_of_the_profile_alone(root):
    profile = profile_in(Status.APPLIED, credentials="MD", hourly_rate=Decimal("120.00"))
    stale = ExpertProfile.objects.get(pk=profile.pk)
    ExpertProfile.objects.filter(pk=profile.pk).update(credentials="MD, PhD")
    expert_vet(profile=stale, by=root)
    assert ExpertProfile.objects.get().credentials == "MD, PhD"


# --- who may vet ---


def test_a_project_manager_may_not_vet_anyone(manager):
    profile = profile_in(Status.APPLIED)
    with pytest.raises(PermissionDenied):
        expert_vet(profile=profile, by=manager)
    assert ExpertProfile.objects.get(pk=profile.pk).vetting_status == Status.APPLIED


def test_a_deactivated_staff_account_may_not_vet(root):
    root.is_active = False
    root.save()
    with pytest.raises(PermissionDenied):
        expert_vet(profile=profile_in(Status.APPLIED), by=root)


def test_nobody_changes_their_own_vetting(root):
    own = ExpertProfileFactory(user=root, vetting_status=Status.APPLIED)
    with pytest.raises(PermissionDenied, match="their own"):
        expert_vet(profile=own, by=root)
    assert not AuditEvent.objects.exists()


# --- the database's own rules ---


def test_the_database_refuses_an_unknown_status_and_a_negative_rate(db):
    profile = profile_in(Status.APPLIED)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExpertProfile.objects.filter(pk=profile.pk).update(vetting_status="approved")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExpertProfile.objects.filter(pk=profile.pk).update(hourly_rate=Decimal("-1"))
    profile.hourly_rate = Decimal("-5")
    with pytest.raises(ValidationError):
        profile.full_clean()


def test_one_profile_per_user(db):
    profile = profile_in(Status.APPLIED)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExpertProfile.objects.create(user=profile.user)


def test_domain_slugs_are_lowercase_because_item_domains_are(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Domain.objects.create(slug="Medicine", name="Medicine")
    Domain.objects.create(slug="medicine", name="Medicine")


# --- who may be sent items ---


@pytest.mark.parametrize("status", [Status.APPLIED, Status.REJECTED, Status.SUSPENDED])
def test_only_a_vetted_expert_has_eligible_domains(db, status):
    assert expert_eligible_domains(user=profile_in(status, domains=["law"]).user) is None


def test_a_user_without_a_profile_has_no_eligible_domains(db):
    assert expert_eligible_domains(user=UserFactory(username="plain", expert_profile=None)) is None


def test_a_vetted_expert_is_eligible_for_exactly_their_domains(db):
    profile = profile_in(Status.VETTED, domains=["law", "finance"])
    DomainFactory(slug="medicine")
    assert expert_eligible_domains(user=profile.user) == {"law", "finance"}


def test_a_vetted_expert_with_no_domain_is_still_eligible_for_domainless_items(db):
    assert expert_eligible_domains(user=profile_in(Status.VETTED).user) == frozenset()


# --- the admin ---


def changelist(model: str) -> str:
    return reverse(f"admin:labelhub_{model}_changelist")


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


def act(client, action: str, *profiles: ExpertProfile):
    data = {"action": action, "_selected_action": [p.pk for p in profiles]}
    return client.post(changelist("expertprofile"), data, follow=True)


def test_staff_vet_applicants_in_bulk_and_each_refusal_is_reported(root_client, root):
    first, second = (
        profile_in(Status.APPLIED, "first-applicant"),
        profile_in(Status.APPLIED, "second-applicant"),
    )
    already = profile_in(Status.VETTED, "already-vetted")
    page = act(root_client, "vet", first, second, already).content.decode()
    assert "Vetted 2 expert(s)." in page
    assert "already-vetted: an expert profile cannot go from vetted to vetted" in page.lower()
    statuses = dict(ExpertProfile.objects.values_list("user__username", "vetting_status"))
    assert statuses == {"first-applicant": "vetted", "second-applicant": "vetted", "already-vetted": "vetted"}
    assert ExpertProfile.objects.get(user__username="first-applicant").status_changed_by == root
    assert AuditEvent.objects.filter(action=Action.EXPERT_VETTED).count() == 2


@pytest.mark.parametrize(
    ("action", "source", "target"),
    [
        ("reject", Status.APPLIED, Status.REJECTED),
        ("suspend", Status.VETTED, Status.SUSPENDED),
        ("reinstate", Status.SUSPENDED, Status.VETTED),
    ],
)
def test_staff_reject_suspend_and_reinstate_from_the_admin(root_client, action, source, target):
    profile = profile_in(source)
    assert act(root_client, action, profile).status_code == 200
    profile.refresh_from_db()
    assert profile.vetting_status == target


def test_the_admin_form_never_changes_the_status_but_edits_and_audits_the_rest(root_client, root):
    profile = profile_in(Status.APPLIED)
    law = DomainFactory(slug="law")
    url = reverse("admin:labelhub_expertprofile_change", args=[profile.pk])
    form = root_client.get(url).content.decode()
    assert 'name="vetting_status"' not in form and 'name="status_changed_by"' not in form
    response = root_client.post(
        url,
        {
            "vetting_status": "vetted",
            "status_changed_by": root.pk,
            "domains": [law.pk],
            "credentials": "JD, ten years in practice",
            "hourly_rate": "150.00",
        },
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.vetting_status, profile.status_changed_by) == (Status.APPLIED, None)
    assert (profile.credentials, profile.hourly_rate) == ("JD, ten years in practice", Decimal("150.00"))
    assert list(profile.domains.values_list("slug", flat=True)) == ["law"]
    changed = AuditEvent.objects.get(action=Action.ADMIN_CHANGED)
    assert (changed.actor, changed.target) == (root, "expert candidate")


def test_staff_filter_profiles_by_status_and_domain_and_search_by_username(root_client):
    profile_in(Status.APPLIED, "waiting-wendy")
    profile_in(Status.VETTED, "lawyer-larry", domains=["law"])
    profile_in(Status.VETTED, "medic-mia", domains=["medicine"])
    url = changelist("expertprofile")

    def listed(query: dict) -> set[str]:
        page = root_client.get(url, query).content.decode()
        return {n for n in ("waiting-wendy", "lawyer-larry", "medic-mia") if n in page}

    assert listed({"vetting_status__exact": "applied"}) == {"waiting-wendy"}
    assert listed({"domains__id__exact": Domain.objects.get(slug="law").pk}) == {"lawyer-larry"}
    assert listed({"q": "medic"}) == {"medic-mia"}


def test_profiles_are_never_deleted_in_the_admin(root_client):
    profile = profile_in(Status.VETTED)
    url = reverse("admin:labelhub_expertprofile_delete", args=[profile.pk])
    assert root_client.post(url, {"post": "yes"}).status_code == 403
    assert ExpertProfile.objects.filter(pk=profile.pk).exists()


@pytest.mark.parametrize(
    "url",
    [
        "admin:labelhub_expertprofile_changelist",
        "admin:labelhub_expertprofile_add",
        "admin:labelhub_domain_changelist",
        "admin:labelhub_domain_add",
    ],
)
def test_a_project_manager_cannot_reach_the_vetting_pages(client, manager, url):
    client.force_login(manager)
    assert client.get(reverse(url)).status_code == 403


def test_a_project_manager_cannot_open_a_profile_or_run_a_vetting_action(client, manager):
    profile = profile_in(Status.APPLIED)
    client.force_login(manager)
    assert client.get(reverse("admin:labelhub_expertprofile_change", args=[profile.pk])).status_code == 403
    assert act(client, "vet", profile).status_code == 403
    assert ExpertProfile.objects.get(pk=profile.pk).vetting_status == Status.APPLIED
    index = client.get(reverse("admin:index")).content.decode()
    assert "Expert profiles" not in index and ">Domains<" not in index


def test_staff_manage_the_list_of_domains(root_client):
    response = root_client.post(
        reverse("admin:labelhub_domain_add"), {"slug": "chemistry", "name": "Chemistry"}
    )
    assert response.status_code == 302
    assert Domain.objects.filter(slug="chemistry").exists()
