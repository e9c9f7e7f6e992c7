"""The API does what its OpenAPI schema says, checked by fuzzing it from that schema.

Schemathesis generates requests from the schema the site serves, valid ones and invalid ones,
and runs all its default checks on every answer: no 5xx, every status and body documented, valid
requests accepted, invalid ones refused, authentication enforced. The requests go to the Django
application itself (WSGI), inside the test's transaction, with a manager's token (an expert's for
the labelling API) on a project with items and an open assignment.
"""

import json
import uuid
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, assume, settings
from rest_framework.authtoken.models import Token

from annotations.services import Judgment, annotation_submit, assignment_next
from projects.models import Membership, Project
from tests.conftest import member
from tests.factories import ItemFactory

# The schema /api/schema/ serves, generated without a request: pytest-django blocks the
# database while tests are collected, and each operation becomes a test of its own.
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = WSGIHandler()


@schemathesis.serializer("application/jsonl", "application/x-ndjson")
def jsonl(ctx: Any, value: Any) -> bytes:
    """The schema describes a JSONL body as the list of its lines (anything else is one line)."""
    lines = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(line) for line in lines).encode()


@pytest.fixture
def same_connection():
    """Requests run on the test's database connection, as Django's test client keeps it: closing
    it at the end of each request would end the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_world(same_connection, acme, settings, fresh_throttle_counts) -> dict[str, Any]:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # the WSGI client's Host
    # A project whose settings accept every judgment the schema allows; what a project may
    # refuse (ties, a missing strength or rationale) is the 400 each judgment can meet.
    Project.objects.filter(pk=acme.pk).update(strength_scale=Project.StrengthScale.NONE)
    acme.refresh_from_db()
    for n in range(6):
        ItemFactory(project=acme, external_id=f"contract-{n}")
    manager = member(acme, "acme-manager", Membership.Role.MANAGER)
    expert = member(acme, "acme-expert", Membership.Role.EXPERT)
    annotation_submit(
        assignment=assignment_next(project=acme, expert=expert),
        expert=expert,
        judgment=Judgment("A", None, ""),
        idempotency_key=uuid.uuid4(),
    )
    return {
        "slug": acme.slug,
        "code": acme.code,
        "assignment_id": assignment_next(project=acme, expert=expert).pk,
        "manager": Token.objects.create(user=manager).key,
        "expert": Token.objects.create(user=expert).key,
    }


def follows_the_rules_a_schema_cannot_state(case: Any) -> bool:
    """What OpenAPI cannot say (it constrains each value alone), each rule in its operation's
    description: the export's split shares leave some for train; imported items (ITEM_RULES); a
    comparing project's judgment has a choice, and no more pasted characters than its rationale."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    if case.path.endswith("/export"):
        split = (case.query or {}).get("split", "")
        return sum(float(part.split("=")[1]) for part in split.split(",") if "=" in part) < 1
    if case.path.endswith("/assignments/{assignment_id}") and isinstance(case.body, dict):
        pasted, rationale = case.body.get("pasted_chars", 0), str(case.body.get("rationale", ""))
        # The test project compares responses.
        return bool(case.body.get("choice")) and pasted <= len(rationale.strip())
    if case.path.endswith("/items") and isinstance(case.body, list):
        ids = [str(item["id"]).strip() for item in case.body]
        return len(set(ids)) == len(ids) and all(
            len(item["responses"]) == 2
            and len({response["content"] for response in item["responses"]}) == 2
            and (isinstance(item["prompt"], str) or item["prompt"][-1]["role"] == "user")
            for item in case.body
        )
    return True


@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_schemas_promises(case, api_world):
    assume(follows_the_rules_a_schema_cannot_state(case))
    for name in case.path_parameters or {}:
        case.path_parameters[name] = api_world[name]
    # The labelling API is the experts'; everything else, the manager's.
    who = "expert" if case.path.startswith("/api/v1/label/") else "manager"
    case.call_and_validate(headers={"Authorization": f"Token {api_world[who]}"})
