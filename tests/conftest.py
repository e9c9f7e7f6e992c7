"""Shared fixtures: two competing clients and the people around their projects.

The personas follow the house style: a manager and annotators who belong, an outsider who
"should have no access", and an annotator of the other client.
"""

import os

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from projects.models import Membership, Project
from projects.services import guideline_publish, membership_grant
from tests.factories import ClientFactory, ItemFactory, ProjectFactory, UserFactory

# In CI every prerequisite (PostgreSQL, Chromium) must be present: a missing one fails the test
# instead of quietly skipping it.
REQUIRE_ALL = os.environ.get("LABELHUB_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (LABELHUB_REQUIRE_ALL=1: this must run here)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres_only") and connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def acme(db) -> Project:
    project = ProjectFactory(
        client=ClientFactory(name="Acme Labs", slug="acme"),
        slug="acme-helpfulness",
        name="Acme helpfulness",
        codename="Aurora",
    )
    guideline_publish(project=project, body="# Be *precise*\nPrefer correct answers.", author=None)
    return project


@pytest.fixture
def globex(db) -> Project:
    return ProjectFactory(
        client=ClientFactory(name="Globex AI", slug="globex"),
        slug="globex-safety",
        name="Globex safety",
        codename="Borealis",
    )


@pytest.fixture
def acme_items(acme: Project) -> list:
    return [ItemFactory(project=acme, external_id=f"a-{n}") for n in range(5)]


def staff_user():
    return UserFactory(username="staff", is_staff=True)


def member(project: Project, username: str, role: str):
    user = UserFactory(username=username)
    membership_grant(project=project, user=user, role=role, granted_by=staff_user())
    return user


@pytest.fixture
def staff(db):
    return staff_user()


@pytest.fixture
def manager(acme: Project):
    return member(acme, "acme-manager", Membership.Role.MANAGER)


@pytest.fixture
def annotator(acme: Project):
    return member(acme, "acme-expert", Membership.Role.EXPERT)


@pytest.fixture
def annotator2(acme: Project):
    return member(acme, "acme-expert2", Membership.Role.EXPERT)


@pytest.fixture
def viewer(acme: Project):
    return member(acme, "acme-engineer", Membership.Role.VIEWER)


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def other_client_annotator(globex: Project):
    return member(globex, "globex-expert", Membership.Role.EXPERT)


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """The rate limits (API and labelling pages) count in the process-wide cache, keyed by user id,
    and ids come round again from test to test: every test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def api_for(user) -> APIClient:
    """An API client authenticated by a new token of `user`, as a script would be."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client
