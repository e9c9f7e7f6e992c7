from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import assign_perm

from labelhub.models import AuditEvent
from projects.models import Membership
from projects.permissions import Perm, has_project_perm, project_for
from projects.services import GrantRefused, membership_grant, membership_revoke
from tests.conftest import member
from tests.factories import UserFactory

Role = Membership.Role


def test_granting_a_role_gives_exactly_its_permissions_and_is_audited(acme, manager):
    newcomer = UserFactory(username="newcomer")
    membership_grant(project=acme, user=newcomer, role=Role.REVIEWER, granted_by=manager)
    assert has_project_perm(newcomer, acme, Perm.REVIEW)
    assert not has_project_perm(newcomer, acme, Perm.LABEL)
    assert not has_project_perm(newcomer, acme, Perm.EXPORT)
    event = AuditEvent.objects.get(action="role_granted", target="user newcomer")
    assert (event.actor, event.project_id, event.detail["role"]) == (manager, acme.pk, "reviewer")


def test_changing_a_role_removes_the_old_rights(acme, manager, annotator):
    membership_grant(project=acme, user=annotator, role=Role.VIEWER, granted_by=manager)
    assert not has_project_perm(annotator, acme, Perm.LABEL)
    assert has_project_perm(annotator, acme, Perm.EXPORT)
    assert Membership.objects.filter(project=acme, user=annotator, ended_at__isnull=True).count() == 1


def test_revoking_ends_the_membership_keeps_the_row_and_is_audited(acme, manager, annotator):
    membership = Membership.objects.get(project=acme, user=annotator)
    membership_revoke(membership=membership, revoked_by=manager)
    membership.refresh_from_db()
    assert membership.ended_at is not None and membership.ended_by == manager
    assert not has_project_perm(annotator, acme, Perm.VIEW)
    assert AuditEvent.objects.filter(action="role_revoked", target="user acme-expert").exists()


@pytest.mark.parametrize("granter_role", [Role.EXPERT, Role.REVIEWER, Role.VIEWER])
def test_members_who_do_not_manage_cannot_grant_anything(acme, granter_role):
    granter = member(acme, "granter", granter_role)
    with pytest.raises(GrantRefused, match="Only the project's managers"):
        membership_grant(project=acme, user=UserFactory(username="x"), role=Role.EXPERT, granted_by=granter)
    assert not Membership.objects.filter(user__username="x").exists()


def test_nobody_can_raise_themselves_to_manager(acme, annotator):
    with pytest.raises(GrantRefused):
        membership_grant(project=acme, user=annotator, role=Role.MANAGER, granted_by=annotator)
    assert not has_project_perm(annotator, acme, Perm.MANAGE)


def test_a_manager_cannot_grant_in_a_project_they_do_not_manage(acme, globex, manager):
    with pytest.raises(GrantRefused):
        membership_grant(project=globex, user=manager, role=Role.MANAGER, granted_by=manager)
    assert not has_project_perm(manager, globex, Perm.VIEW)


def test_an_unknown_role_is_refused(acme, manager):
    with pytest.raises(GrantRefused, match="Unknown role"):
        membership_grant(project=acme, user=UserFactory(), role="owner", granted_by=manager)


@pytest.fixture
def rivals(acme, globex):
    acme.client.competitors.add(globex.client)


def test_someone_in_a_competitors_project_cannot_join(acme, globex, manager, other_client_annotator, rivals):
    with pytest.raises(GrantRefused, match="This person cannot be added") as refused:
        membership_grant(project=acme, user=other_client_annotator, role=Role.EXPERT, granted_by=manager)
    # A manager learns that this person may not join, not that they work for a competitor.
    assert all(name not in str(refused.value) for name in (globex.client.name, globex.slug, globex.codename))
    assert not has_project_perm(other_client_annotator, acme, Perm.VIEW)


def test_competition_works_in_both_directions(acme, globex, annotator, rivals, staff):
    globex_manager = member(globex, "globex-manager", Role.MANAGER)
    with pytest.raises(GrantRefused):
        membership_grant(project=globex, user=annotator, role=Role.EXPERT, granted_by=globex_manager)


def test_a_recent_ex_member_of_a_competitor_is_still_refused(
    acme, globex, manager, other_client_annotator, rivals, staff
):
    membership_revoke(membership=Membership.objects.get(user=other_client_annotator), revoked_by=staff)
    with pytest.raises(GrantRefused):
        membership_grant(project=acme, user=other_client_annotator, role=Role.EXPERT, granted_by=manager)


def test_membership_of_a_competitor_that_ended_before_the_window_is_no_conflict(
    acme, manager, other_client_annotator, rivals, settings
):
    settings.CONFLICT_WINDOW_DAYS = 30
    Membership.objects.filter(user=other_client_annotator).update(
        ended_at=timezone.now() - timedelta(days=31)
    )
    membership_grant(project=acme, user=other_client_annotator, role=Role.EXPERT, granted_by=manager)
    assert has_project_perm(other_client_annotator, acme, Perm.LABEL)


def test_a_manager_cannot_override_a_conflict(acme, manager, other_client_annotator, rivals):
    with pytest.raises(GrantRefused):
        membership_grant(
            project=acme,
            user=other_client_annotator,
            role=Role.EXPERT,
            granted_by=manager,
            override_reason="I know them",
        )


def test_staff_override_a_conflict_only_with_a_reason_which_is_recorded(
    acme, globex, other_client_annotator, rivals, staff
):
    with pytest.raises(GrantRefused, match="competing client") as refused:
        membership_grant(project=acme, user=other_client_annotator, role=Role.EXPERT, granted_by=staff)
    # Staff are told why, never with whom.
    assert all(name not in str(refused.value) for name in (globex.client.name, globex.slug, globex.codename))
    membership = membership_grant(
        project=acme,
        user=other_client_annotator,
        role=Role.EXPERT,
        granted_by=staff,
        override_reason="Left Globex; NDA checked by legal",
    )
    assert membership.conflict_override == "Left Globex; NDA checked by legal"
    event = AuditEvent.objects.get(action="conflict_overridden")
    assert event.detail["reason"] == "Left Globex; NDA checked by legal" and event.actor == staff


def test_clients_that_are_not_competitors_share_experts_freely(acme, manager, other_client_annotator):
    membership_grant(project=acme, user=other_client_annotator, role=Role.EXPERT, granted_by=manager)
    assert has_project_perm(other_client_annotator, acme, Perm.LABEL)


def test_the_door_reads_permissions_held_through_a_group_on_that_project_only(acme, globex):
    """Roles are granted to users, but guardian also lets a group hold object permissions; the
    door honours those, for the project they are on and no other."""
    user = UserFactory(username="grouped")
    team = Group.objects.create(name="acme-reviewers")
    user.groups.add(team)
    assign_perm(Perm.VIEW, team, acme)
    assign_perm(Perm.REVIEW, team, acme)
    assert project_for(user, Perm.REVIEW, pk=acme.pk) == acme
    with pytest.raises(PermissionDenied):
        project_for(user, Perm.LABEL, pk=acme.pk)  # a member, without this right: 403
    with pytest.raises(Http404):
        project_for(user, Perm.VIEW, pk=globex.pk)  # not on the other client's project: 404
    user.groups.remove(team)
    with pytest.raises(Http404):
        project_for(user, Perm.VIEW, pk=acme.pk)
