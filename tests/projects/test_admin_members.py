"""Adding members from the admin: the expert search, the prefilled form and the rules behind it."""

import pytest
from django.urls import reverse

from labelhub.models import Domain, ExpertProfile
from projects.models import Membership
from projects.permissions import Perm, has_project_perm
from tests.conftest import member
from tests.factories import ExpertProfileFactory, UserFactory

ADD = "admin:projects_membership_add"


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def experts(db):
    """Experts of every sort; none of them a member of anything yet."""
    return {
        "cardio": ExpertProfileFactory(user__username="dr-cardio", domains=["medicine"]),
        "lawyer": ExpertProfileFactory(user__username="lawyer-lee", domains=["law"]),
        "applicant": ExpertProfileFactory(
            user__username="dr-applicant", domains=["medicine"], vetting_status=ExpertProfile.Status.APPLIED
        ),
        "gone": ExpertProfileFactory(user__username="dr-gone", user__is_active=False, domains=["medicine"]),
    }


def search(client, **params) -> str:
    response = client.get(reverse(ADD), params)
    assert response.status_code == 200
    return response.content.decode()


def test_a_manager_finds_vetted_experts_by_domain(manager_client, experts):
    page = search(manager_client, domain="medicine")
    assert "dr-cardio" in page
    assert "lawyer-lee" not in page  # another domain
    assert "dr-applicant" not in page  # not vetted: the default status is "vetted"
    assert "dr-gone" not in page  # inactive users are never listed


def test_a_manager_finds_experts_by_status_and_username(manager_client, experts):
    page = search(manager_client, domain="medicine", status="applied")
    assert "dr-applicant" in page and "dr-cardio" not in page
    page = search(manager_client, q="LAWYER", status="")
    assert "lawyer-lee" in page and "dr-cardio" not in page and "dr-applicant" not in page


def test_the_search_never_tells_where_an_expert_works(manager_client, globex, other_client_annotator):
    page = search(manager_client, q="globex")
    assert "globex-expert" in page
    for secret in (globex.name, globex.codename, globex.slug, globex.client.name):
        assert secret not in page


def test_choosing_an_expert_prefills_the_form(manager_client, acme, experts):
    page = search(manager_client, project=acme.pk, domain="medicine")
    choose = f"?username=dr-cardio&amp;project={acme.pk}&amp;domain=medicine"
    assert choose in page
    form = search(manager_client, username="dr-cardio", project=acme.pk, domain="medicine")
    assert 'name="username" value="dr-cardio"' in form
    assert f'<option value="{acme.pk}" selected>' in form


def test_a_foreign_project_is_not_prefilled(manager_client, globex):
    page = search(manager_client, project=globex.pk)
    assert f'value="{globex.pk}"' not in page and globex.name not in page
    assert f"project={globex.pk}" not in page


def test_adding_a_chosen_expert_grants_the_role(manager_client, acme, experts):
    response = manager_client.post(
        reverse(ADD) + f"?username=dr-cardio&project={acme.pk}",
        {"project": acme.pk, "username": "dr-cardio", "role": "expert"},
    )
    assert response.status_code == 302
    assert has_project_perm(experts["cardio"].user, acme, Perm.LABEL)


def test_the_search_offers_no_staff_nor_a_competitors_experts_nor_their_domains(
    manager_client, acme, globex, other_client_annotator, staff
):
    for user in (staff, other_client_annotator):
        ExpertProfile.objects.update_or_create(user=user, defaults={"vetting_status": "vetted"})
    other_client_annotator.expert_profile.domains.add(Domain.objects.create(slug="fusion", name="Fusion"))
    assert "globex-expert" in search(manager_client, q="globex")  # no competitor: offered
    acme.client.competitors.add(globex.client)

    for page in (search(manager_client, status=""), search(manager_client, project=acme.pk, status="")):
        assert "globex-expert" not in page and "Fusion" not in page
        assert "username=staff" not in page


def test_adding_a_chosen_expert_still_refuses_a_conflict(
    manager_client, acme, globex, other_client_annotator
):
    acme.client.competitors.add(globex.client)
    # The competitor's expert is not offered (nor the domains only such experts work in)...
    page = search(manager_client, project=acme.pk, q="globex")
    assert "globex-expert" not in page
    # ...and naming them anyway is refused without saying why.
    response = manager_client.post(
        reverse(ADD) + f"?username=globex-expert&project={acme.pk}",
        {"project": acme.pk, "username": "globex-expert", "role": "expert"},
    )
    page = response.content.decode()
    assert response.status_code == 200 and "This person cannot be added." in page
    assert globex.name not in page
    assert not Membership.objects.filter(project=acme, user=other_client_annotator).exists()


def test_experts_and_outsiders_cannot_reach_the_search(client, annotator, outsider, experts):
    for user in (annotator, outsider):
        client.force_login(user)
        response = client.get(reverse(ADD), {"domain": "medicine"})
        assert response.status_code == 302 and "/admin/login/" in response.url


def test_a_reviewer_cannot_search_experts(client, acme, experts):
    client.force_login(member(acme, "acme-reviewer", Membership.Role.REVIEWER))
    response = client.get(reverse(ADD), {"domain": "medicine"})
    assert response.status_code == 403 and "dr-cardio" not in response.content.decode()


def test_the_search_lists_at_most_fifty(manager_client):
    for n in range(55):
        UserFactory(username=f"bulk-{n:02d}")
    page = search(manager_client, q="bulk-")
    assert page.count(">Choose</a>") == 50 and "bulk-49" in page and "bulk-50" not in page


def test_the_project_page_links_to_adding_a_member(manager_client, acme):
    page = manager_client.get(reverse("admin:projects_project_change", args=[acme.pk])).content.decode()
    assert f'{reverse(ADD)}?project={acme.pk}"' in page
    assert "Add a member" in page
