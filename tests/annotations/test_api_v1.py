"""The ML engineers' API on a project: its detail with progress, and its streamed export."""

import uuid

import pytest
from django.urls import reverse

from annotations.exports import FORMATS, PairOptions, export_lines
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.models import AuditEvent
from projects.models import Membership, Project
from tests.conftest import api_for, member


def detail_url(project: Project) -> str:
    return reverse("annotations:api-project", args=[project.slug])


def export_url(project: Project, fmt: str) -> str:
    return reverse("annotations:api-export", args=[project.slug]) + f"?format={fmt}"


@pytest.fixture
def judged(acme, acme_items, annotator):
    for choice in ("A", "B"):
        annotation_submit(
            assignment=assignment_next(project=acme, expert=annotator),
            expert=annotator,
            judgment=Judgment(choice, 2, "because"),
            idempotency_key=uuid.uuid4(),
        )
    return acme


def test_a_manager_sees_settings_and_progress_with_experts_by_name(manager, judged):
    body = api_for(manager).get(detail_url(judged)).json()
    assert body["slug"] == "acme-helpfulness" and body["client"] == "Acme Labs"
    assert body["labels_per_item"] == judged.labels_per_item and "allow_tie" in body
    assert body["progress"]["items"] == 5 and body["progress"]["annotations"] == 2
    assert body["progress"]["per_expert"] == [
        {
            "annotator": "acme-expert",
            "labels": 2,
            "gold_answered": 0,
            "gold_correct": 0,
            "gold_accuracy": None,
        }
    ]


def test_a_client_viewer_sees_experts_only_by_pseudonym(viewer, judged):
    body = api_for(viewer).get(detail_url(judged)).json()
    assert body["progress"]["per_expert"][0]["annotator"] != "acme-expert"


def test_the_detail_is_404_for_outsiders_the_other_client_and_experts(outsider, annotator, acme, globex):
    globex_manager = member(globex, "globex-manager", Membership.Role.MANAGER)
    for user in (outsider, globex_manager, annotator):
        assert api_for(user).get(detail_url(acme)).status_code == 404


def test_a_reviewer_of_the_project_gets_404_by_slug(acme):
    reviewer = member(acme, "acme-reviewer", Membership.Role.REVIEWER)
    assert api_for(reviewer).get(detail_url(acme)).status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_export_streams_the_same_bytes_as_the_command_and_is_audited(manager, judged, fmt):
    response = api_for(manager).get(export_url(judged, fmt))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("application/jsonl")
    assert b"".join(response.streaming_content) == b"".join(export_lines(judged, fmt))
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT_DOWNLOADED)
    assert event.actor == manager and event.project_id == judged.pk
    assert event.detail == {"via": "api", "format": fmt}


def test_an_unknown_missing_or_bundle_format_is_refused_and_not_audited(viewer, acme):
    client = api_for(viewer)
    for url in (
        export_url(acme, "csv"),
        export_url(acme, "bundle"),
        reverse("annotations:api-export", args=[acme.slug]),
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert response.json()["format"]
    assert "pairs" in client.get(export_url(acme, "bundle")).json()["format"][0]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DOWNLOADED).exists()


def test_the_pairs_options_are_query_parameters(manager, judged):
    client = api_for(manager)
    options = "&aggregate=majority&min_annotations=2&style=standard"
    response = client.get(export_url(judged, "pairs") + options)
    expected = export_lines(
        judged, "pairs", PairOptions(aggregate="majority", min_annotations=2, style="standard")
    )
    assert b"".join(response.streaming_content) == b"".join(expected)
    bad = client.get(export_url(judged, "pairs") + "&min_agreement=2&split=test")
    assert bad.status_code == 400 and "min_agreement" in bad.json()


def test_the_export_is_404_for_the_other_client_and_experts(annotator, acme, globex):
    globex_viewer = member(globex, "globex-viewer", Membership.Role.VIEWER)
    for user in (globex_viewer, annotator):
        assert api_for(user).get(export_url(acme, "pairs")).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DOWNLOADED).exists()


@pytest.mark.parametrize("fetch_site", ["cross-site", "same-origin"])
def test_a_session_cannot_export_through_the_api_so_a_cross_site_link_records_nothing(
    client, manager, judged, fetch_site
):
    client.force_login(manager)
    response = client.get(export_url(judged, "pairs"), headers={"Sec-Fetch-Site": fetch_site})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DOWNLOADED).exists()
    # The web download is the project page's form, a POST behind CSRF.
    download = client.post(reverse("annotations:export", args=[judged.code]), {"format": "pairs"})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"".join(export_lines(judged, "pairs"))
    assert AuditEvent.objects.get(action=AuditEvent.Action.EXPORT_DOWNLOADED).detail["via"] == "web"


def test_staff_may_export_any_project(staff, judged):
    assert api_for(staff).get(export_url(judged, "pairs")).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "&aggregate=",
        "&margin=",
        "&min_annotations=",
        "&margin=on",
        "&split=test=0.1,test=0.2",
        "&split=test=1e-1",
    ],
)
def test_the_export_refuses_what_its_schema_does_not_allow(manager, judged, query):
    response = api_for(manager).get(export_url(judged, "pairs") + query)
    name = query[1:].split("=")[0]
    assert response.status_code == 400 and name in response.json()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DOWNLOADED).exists()


def test_an_export_parameter_the_api_does_not_know_is_refused_not_ignored(manager, judged):
    response = api_for(manager).get(
        reverse("annotations:api-export", kwargs={"slug": judged.slug}),
        {"format": "pairs", "aggregrate": "majority", "": "null"},
    )
    assert response.status_code == 400
    assert "Unknown parameter(s): '', 'aggregrate'." in str(response.json())
