"""Experts see a project's codename, never its client: no page, partial, title or error names it."""

import io
import uuid

from django.core.management import call_command
from django.urls import reverse

from annotations.services import assignment_next
from labelhub.models import User
from projects.models import Project

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_no_page_or_partial_an_expert_can_reach_names_a_client(client, db):
    call_command("seed_demo", stdout=io.StringIO())
    acme, globex = Project.objects.get(slug="acme-helpfulness"), Project.objects.get(slug="globex-safety")
    forbidden = [acme.client.name, acme.name, acme.slug, globex.client.name, globex.name, globex.slug]
    expert = User.objects.get(username="acme-expert")
    client.force_login(expert)
    seen = []

    def visit(method: str, url: str, data: dict | None = None, **extra) -> None:
        response = getattr(client, method)(url, data, follow=True, **extra)
        seen.append((url, response.status_code))
        text = response.content.decode()
        for name in forbidden:
            assert name.lower() not in text.lower(), f"{url} ({response.status_code}) shows {name!r}"

    code = acme.code
    visit("get", reverse("annotations:home"))
    visit("get", reverse("annotations:label", args=[code]))
    visit("get", reverse("annotations:label", args=[code]), **HTMX)
    visit("get", reverse("annotations:guidelines", args=[code]))
    assignment = assignment_next(project=acme, expert=expert)
    submit = reverse("annotations:submit", args=[code, assignment.pk])
    visit("post", submit, {"choice": "A", "idempotency_key": str(uuid.uuid4())}, **HTMX)  # 422: no strength
    visit("post", submit, {"choice": "A", "strength": "2", "idempotency_key": str(uuid.uuid4())}, **HTMX)
    assignment = assignment_next(project=acme, expert=expert)
    visit("post", reverse("annotations:skip", args=[code, assignment.pk]), {"reason": "expertise"}, **HTMX)
    visit("post", reverse("annotations:skip", args=[code, assignment.pk]), {"reason": "nonsense"}, **HTMX)
    visit("get", reverse("annotations:project", args=[code]))  # 403 page
    visit("post", reverse("annotations:export", args=[code]), {"format": "pairs"})  # 403 page
    visit("get", reverse("annotations:label", args=[globex.code]))  # 404 page
    visit("get", "/p/acme-helpfulness/label/")  # the internal slug is not an address
    visit("get", reverse("admin:index"))  # redirected to the admin's login page
    assert {status for _, status in seen} >= {200, 403, 404, 422}
