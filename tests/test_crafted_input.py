"""Crafted input, as an attacker would send it: a clear 400, 404 or 409 and nothing changed,
never a 500 (whose debug page could show someone else's data).

Each route is a case of its own, so that one failure does not hide the others.
"""

import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, resolve, reverse
from rest_framework.test import APIClient

from annotations.models import (
    CRITERION_NOTE_MAX_CHARS,
    RATIONALE_MAX_CHARS,
    REASON_MAX_CHARS,
    Annotation,
    Assignment,
    Rating,
    Skip,
)
from annotations.services import Judgment, annotation_submit, assignment_next, assignment_skip
from labelhub.fastjson import MAX_DEPTH
from projects.importing import parse_items
from projects.models import Item, Membership, Project
from projects.rubrics import CriterionSpec, rubric_save
from tests.factories import ItemFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
# Past the largest id a BIGINT primary key can hold (2**63 - 1), and far past it.
OUT_OF_RANGE = [2**63, 10**40]
LARGEST_ID = 2**63 - 1

# The routes that name an assignment by id: (URL name, whether it is the API's).
ASSIGNMENT_ROUTES = [
    ("annotations:submit", False),
    ("annotations:skip", False),
    ("annotations:heartbeat", False),
    ("annotations:draft", False),
    ("annotations:api-submit", True),
    ("annotations:api-heartbeat", True),
]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def next_url(project: Project) -> str:
    return reverse("annotations:api-next", args=[project.code])


def submit_url(project: Project, assignment_id: int) -> str:
    return reverse("annotations:api-submit", args=[project.code, assignment_id])


def heartbeat_url(project: Project, assignment_id: int) -> str:
    return reverse("annotations:api-heartbeat", args=[project.code, assignment_id])


def judgment_body(key: uuid.UUID | str, **extra) -> dict:
    return {
        "choice": "B",
        "strength": 2,
        "rationale": "B cites the source.",
        "idempotency_key": str(key),
        **extra,
    }


# --- ids past the database's range ---


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize(("name", "is_api"), ASSIGNMENT_ROUTES)
def test_an_assignment_id_past_the_databases_range_matches_no_route(acme, name, is_api, number):
    assert resolve(reverse(name, args=[acme.code, LARGEST_ID])).kwargs["assignment_id"] == LARGEST_ID
    with pytest.raises(Resolver404):
        resolve(reverse(name, args=[acme.code, number]))


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize(("name", "is_api"), ASSIGNMENT_ROUTES)
# On SQLite these were 500s: the driver refuses integers past 64 bits with an OverflowError.
def test_an_assignment_id_past_the_databases_range_is_a_404_not_a_500(
    client, acme, acme_items, annotator, name, is_api, number
):
    assignment_next(project=acme, expert=annotator)
    url = reverse(name, args=[acme.code, number])
    if is_api:
        response = api(annotator).post(url, {}, format="json")
    else:
        client.force_login(annotator)
        response = client.post(url, {"reason": "other"})
    assert response.status_code == 404
    assert not Annotation.objects.exists() and not Skip.objects.exists()


# The routes that name an expert by user id: a manager's actions on the quality page.
EXPERT_ROUTES = ["quality:expert-reinstate", "quality:expert-retake"]


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize("name", EXPERT_ROUTES)
def test_an_expert_id_past_the_databases_range_matches_no_route(acme, name, number):
    assert resolve(reverse(name, args=[acme.code, LARGEST_ID])).kwargs["user_id"] == LARGEST_ID
    with pytest.raises(Resolver404):
        resolve(reverse(name, args=[acme.code, number]))


@pytest.mark.parametrize("raw", ["x1", "-1", "1.0", "²", "%00"])
@pytest.mark.parametrize("name", EXPERT_ROUTES)
def test_an_expert_id_that_is_not_a_number_matches_no_route(acme, name, raw):
    url = reverse(name, args=[acme.code, 1]).replace("/1/", f"/{raw}/")
    with pytest.raises(Resolver404):
        resolve(url)


@pytest.mark.parametrize("number", [0, LARGEST_ID, *OUT_OF_RANGE])
@pytest.mark.parametrize("name", EXPERT_ROUTES)
def test_an_expert_id_no_expert_has_is_a_404_that_changes_nothing(
    client, acme, manager, annotator, name, number
):
    Membership.objects.filter(user=annotator).update(quality_status=Membership.QualityStatus.FAILED)
    before = list(Membership.objects.values())
    client.force_login(manager)
    url = reverse(name, args=[acme.code, number])
    for extra in ({}, HTMX):
        assert client.get(url, **extra).status_code == 404
        assert client.post(url, **extra).status_code == 404
    assert list(Membership.objects.values()) == before


# --- deeply nested JSON ---


def labelling_calls(project: Project, annotator) -> dict[str, str]:
    assignment = assignment_next(project=project, expert=annotator)
    return {
        "next": next_url(project),
        "submit": submit_url(project, assignment.pk),
        "heartbeat": heartbeat_url(project, assignment.pk),
    }


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100_000])
@pytest.mark.parametrize("call", ["next", "submit", "heartbeat"])
def test_a_deeply_nested_body_to_the_labelling_api_is_a_400_that_says_so(
    acme, acme_items, annotator, call, levels
):
    url = labelling_calls(acme, annotator)[call]
    before = Assignment.objects.values_list("pk", "status", "expires_at").get()
    response = api(annotator).post(url, nested(levels), content_type="application/json")
    assert response.status_code == 400
    assert f"nested more than {MAX_DEPTH} levels deep" in response.json()["detail"]
    assert Assignment.objects.values_list("pk", "status", "expires_at").get() == before
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 100_000])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", lambda levels: nested(levels)),
        ("application/json", lambda levels: f"[{nested(levels)}]"),
        ("application/jsonl", lambda levels: nested(levels)),
        ("application/jsonl", lambda levels: '{"id": "x", "metadata": {"a": ' + nested(levels) + "}}"),
    ],
)
def test_a_deeply_nested_items_import_is_a_400_that_says_so(acme, manager, content_type, body, levels):
    url = reverse("projects:api-items", args=[acme.slug])
    response = api(manager).post(url, body(levels), content_type=content_type)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error.startswith("line 1: ") and f"nested more than {MAX_DEPTH} levels deep" in error
    assert not Item.objects.exists()


def test_an_item_file_nested_too_deeply_is_reported_on_its_line():
    good = json.dumps({"id": "q1", "prompt": "2 + 2?", "responses": [{"content": "4"}, {"content": "5"}]})
    deep = '{"id": "q2", "prompt": "?", "responses": [], "metadata": {"x": ' + nested(100_000) + "}}"
    parsed = parse_items(f"{good}\n{deep}\n{nested(2_000)}\n".encode(), fmt="jsonl")
    assert [item.external_id for item in parsed.items] == ["q1"]
    assert [(error.line, error.message) for error in parsed.errors] == [
        (2, f"invalid JSON: it is nested more than {MAX_DEPTH} levels deep"),
        (3, f"invalid JSON: it is nested more than {MAX_DEPTH} levels deep"),
    ]


def test_a_deeply_nested_admin_upload_is_reported_not_a_500(client, acme, manager, settings, tmp_path):
    settings.ITEM_IMPORT_DIR = tmp_path / "imports"
    client.force_login(manager)
    upload = SimpleUploadedFile("items.jsonl", nested(100_000).encode())
    response = client.post("/admin/projects/item/import/", {"project": acme.pk, "file": upload})
    assert response.status_code == 200
    assert f"nested more than {MAX_DEPTH} levels deep" in response.content.decode()
    assert not Item.objects.exists()


# --- idempotency keys belong to one assignment ---


def leased_ids(project: Project, *experts) -> list[int]:
    return [
        api(expert).post(next_url(project), {}, format="json").json()["assignment_id"] for expert in experts
    ]


def test_another_experts_key_is_a_409_that_shows_nothing_of_their_judgment(
    acme, acme_items, annotator, annotator2
):
    mine, theirs = leased_ids(acme, annotator, annotator2)
    key = uuid.uuid4()
    secret = "Only the first expert wrote this."
    assert (
        api(annotator)
        .post(submit_url(acme, mine), judgment_body(key, rationale=secret), format="json")
        .status_code
        == 201
    )
    response = api(annotator2).post(submit_url(acme, theirs), judgment_body(key), format="json")
    assert response.status_code == 409
    assert "already used for another item" in response.json()["detail"]
    text = response.content.decode()
    assert secret not in text and "acme-expert" not in text
    assert not Annotation.objects.filter(assignment_id=theirs).exists()
    assert Assignment.objects.get(pk=theirs).status == Assignment.Status.ACTIVE


def test_reusing_my_key_on_my_next_item_is_a_409_not_a_replay(acme, acme_items, annotator):
    client = api(annotator)
    (first,) = leased_ids(acme, annotator)
    key = uuid.uuid4()
    assert client.post(submit_url(acme, first), judgment_body(key), format="json").status_code == 201
    (second,) = leased_ids(acme, annotator)
    response = client.post(submit_url(acme, second), judgment_body(key), format="json")
    assert response.status_code == 409
    assert not Annotation.objects.filter(assignment_id=second).exists()
    # A fresh key stores the second judgment; the first key still replays the first one.
    assert (
        client.post(submit_url(acme, second), judgment_body(uuid.uuid4()), format="json").status_code == 201
    )
    replay = client.post(submit_url(acme, first), judgment_body(key), format="json")
    assert (replay.status_code, replay.json()) == (200, {"created": False})


def test_a_submitted_items_retry_with_another_items_key_is_a_409(acme, acme_items, annotator):
    client = api(annotator)
    first_key, second_key = uuid.uuid4(), uuid.uuid4()
    (first,) = leased_ids(acme, annotator)
    assert client.post(submit_url(acme, first), judgment_body(first_key), format="json").status_code == 201
    (second,) = leased_ids(acme, annotator)
    assert client.post(submit_url(acme, second), judgment_body(second_key), format="json").status_code == 201
    assert client.post(submit_url(acme, first), judgment_body(second_key), format="json").status_code == 409


def test_the_page_refuses_another_items_key_and_offers_a_fresh_one(client, acme, acme_items, annotator):
    client.force_login(annotator)
    first = assignment_next(project=acme, expert=annotator)
    key = uuid.uuid4()
    annotation_submit(assignment=first, expert=annotator, judgment=Judgment("A", 1, ""), idempotency_key=key)
    second = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:submit", args=[acme.code, second.pk])
    data = {"choice": "B", "strength": "2", "rationale": "Keep me", "idempotency_key": str(key)}
    response = client.post(url, data, **HTMX)
    page = response.content.decode()
    assert response.status_code == 422
    assert "already used for another item" in page and "Keep me" in page
    assert str(key) not in page
    assert not Annotation.objects.filter(assignment=second).exists()


# --- the heartbeat takes no fields ---


@pytest.mark.parametrize("body", [{"expires_at": "2100-01-01T00:00:00Z"}, {"expert": 1, "minutes": 600}])
def test_the_heartbeat_refuses_fields_naming_them(acme, acme_items, annotator, body):
    assignment = assignment_next(project=acme, expert=annotator)
    response = api(annotator).post(heartbeat_url(acme, assignment.pk), body, format="json")
    assert response.status_code == 400
    assert sorted(response.json()) == sorted(body)
    assert Assignment.objects.get(pk=assignment.pk).expires_at == assignment.expires_at


def test_the_heartbeat_refuses_a_body_that_is_not_an_object(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    response = api(annotator).post(heartbeat_url(acme, assignment.pk), [1, 2], format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()


# --- length limits on what experts write ---

RATIONALE_TOO_LONG = f"The rationale can be at most {RATIONALE_MAX_CHARS:,} characters long."


def test_the_service_refuses_a_rationale_past_the_limit_and_stores_one_at_it(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)

    def submit(rationale: str) -> None:
        judgment = Judgment("A", 1, rationale)
        annotation_submit(
            assignment=assignment, expert=annotator, judgment=judgment, idempotency_key=uuid.uuid4()
        )

    with pytest.raises(ValidationError) as refused:
        submit("x" * (RATIONALE_MAX_CHARS + 1))
    assert refused.value.message_dict == {"rationale": [RATIONALE_TOO_LONG]}
    assert not Annotation.objects.exists()
    submit(" " + "x" * RATIONALE_MAX_CHARS + " ")  # counted once stripped, as it is stored
    assert len(Annotation.objects.get().rationale) == RATIONALE_MAX_CHARS


def test_the_page_and_the_api_refuse_a_long_rationale_with_one_message(client, acme, acme_items, annotator):
    client.force_login(annotator)
    too_long = "x" * (RATIONALE_MAX_CHARS + 1)
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:submit", args=[acme.code, assignment.pk])
    data = {"choice": "A", "strength": "1", "rationale": too_long, "idempotency_key": str(uuid.uuid4())}
    page = client.post(url, data, **HTMX)
    assert page.status_code == 422 and RATIONALE_TOO_LONG in page.content.decode()
    response = api(annotator).post(
        submit_url(acme, assignment.pk), judgment_body(uuid.uuid4(), rationale=too_long), format="json"
    )
    assert (response.status_code, response.json()) == (400, {"rationale": [RATIONALE_TOO_LONG]})
    assert not Annotation.objects.exists()


def test_a_skip_note_past_the_limit_is_refused_by_the_service(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    with pytest.raises(ValidationError) as refused:
        assignment_skip(
            assignment=assignment, expert=annotator, reason="other", note="n" * (REASON_MAX_CHARS + 1)
        )
    assert refused.value.message_dict == {
        "note": [f"The skip note can be at most {REASON_MAX_CHARS:,} characters long."]
    }
    assert not Skip.objects.exists()


def test_the_page_says_a_skip_note_is_too_long(client, acme, acme_items, annotator):
    client.force_login(annotator)
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:skip", args=[acme.code, assignment.pk])
    response = client.post(url, {"reason": "other", "note": "n" * (REASON_MAX_CHARS + 1)}, **HTMX)
    assert response.status_code == 422
    assert f"The skip note can be at most {REASON_MAX_CHARS:,} characters long." in response.content.decode()
    assert not Skip.objects.exists()
    assert Assignment.objects.get(pk=assignment.pk).status == Assignment.Status.ACTIVE


# --- the pasted-character count the labelling page reports ---

RATIONALE = judgment_body(uuid.uuid4())["rationale"]
PASTED_OUT_OF_RANGE = (
    "The pasted characters must be a whole number from 0 to the length of the rationales "
    f"({len(RATIONALE)} here)."
)


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        (-1, PASTED_OUT_OF_RANGE),
        (len(RATIONALE) + 1, PASTED_OUT_OF_RANGE),
        (10**30, PASTED_OUT_OF_RANGE),  # past any integer column
        ("12", 'Must be a whole number, not "12".'),
        (1.5, "Must be a whole number, not 1.5."),
        (True, "Must be a whole number, not true."),
    ],
)
def test_the_api_refuses_a_pasted_count_that_is_not_one_naming_it(
    acme, acme_items, annotator, pasted, message
):
    assignment = assignment_next(project=acme, expert=annotator)
    body = judgment_body(uuid.uuid4(), pasted_chars=pasted)
    response = api(annotator).post(submit_url(acme, assignment.pk), body, format="json")
    assert (response.status_code, response.json()) == (400, {"pasted_chars": [message]})
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("-1", PASTED_OUT_OF_RANGE),
        ("1" + "0" * 30, PASTED_OUT_OF_RANGE),
        ("many", "The pasted characters must be a whole number."),
        ("1.5", "The pasted characters must be a whole number."),
    ],
)
def test_the_page_refuses_a_pasted_count_that_is_not_one_and_says_so(
    client, acme, acme_items, annotator, pasted, message
):
    client.force_login(annotator)
    assignment = assignment_next(project=acme, expert=annotator)
    url = reverse("annotations:submit", args=[acme.code, assignment.pk])
    data = {"choice": "B", "strength": "2", "rationale": RATIONALE, "pasted_chars": pasted}
    response = client.post(url, {**data, "idempotency_key": str(uuid.uuid4())}, **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode() and RATIONALE in response.content.decode()
    assert not Annotation.objects.exists()


@pytest.fixture
def rubric(acme) -> Project:
    acme.kind = Project.Kind.RUBRIC
    acme.save()
    rubric_save(
        project=acme,
        criteria=[CriterionSpec("honesty", "Honesty", scale_min=0, scale_max=4, asks_rationale=True)],
    )
    ItemFactory(project=acme, external_id="r-1", responses=[("one", "m1")])
    return acme


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"r0-honesty": "3", "r0-honesty-rationale": "w" * (CRITERION_NOTE_MAX_CHARS + 1)},
            f"The rationale for Honesty can be at most {CRITERION_NOTE_MAX_CHARS:,} characters long.",
        ),
        (
            {"r0-not_ratable": "1", "r0-reason": "w" * (REASON_MAX_CHARS + 1)},
            f"The reason a response is not ratable can be at most {REASON_MAX_CHARS:,} characters long.",
        ),
    ],
)
def test_the_page_says_a_rubric_note_is_too_long(client, rubric, annotator, fields, message):
    client.force_login(annotator)
    assignment = assignment_next(project=rubric, expert=annotator)
    url = reverse("annotations:submit", args=[rubric.code, assignment.pk])
    data = {"rubric_version": "1", "idempotency_key": str(uuid.uuid4()), **fields}
    response = client.post(url, data, **HTMX)
    assert response.status_code == 422 and message in response.content.decode()
    assert not Annotation.objects.exists() and not Rating.objects.exists()


@pytest.mark.parametrize("field", ["prompt", "metadata"])
def test_an_item_edited_in_the_admin_with_deeply_nested_json_is_refused_not_a_500(
    client, acme, manager, field
):
    item = ItemFactory(project=acme, external_id="q1", responses=[("4", ""), ("5", "")])
    client.force_login(manager)
    url = reverse("admin:projects_item_change", args=[item.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"prompt": json.dumps(item.prompt), "metadata": "{}", field: nested(100_000)})
    data.update({"responses-TOTAL_FORMS": "0", "responses-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert f"nested more than {MAX_DEPTH} levels deep" in response.content.decode()
    item.refresh_from_db()
    assert item.metadata == {} and isinstance(item.prompt, str)


# A chart's name is a slug from a short list: anything else finds no chart, and nothing is drawn.
CRAFTED_CHART_NAMES = ["no-such-chart", "gold_accuracy", "GOLD-ACCURACY", "x" * 5000, "__init__", "CHARTS"]


@pytest.mark.parametrize("page", ["annotations", "quality"])
@pytest.mark.parametrize("name", CRAFTED_CHART_NAMES)
@pytest.mark.parametrize("fmt", ["svg", "csv"])
def test_a_made_up_chart_name_is_a_404(client, acme, manager, page, name, fmt):
    client.force_login(manager)
    response = client.get(reverse(f"{page}:chart-{fmt}", kwargs={"code": acme.code, "chart": name}))
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["../quality", "gold-accuracy.png", "gold-accuracy.svg.csv", "%00", "ü"])
def test_a_chart_path_that_is_no_slug_and_format_matches_no_route(acme, path):
    with pytest.raises(Resolver404):
        resolve(f"/p/{acme.code}/quality/charts/{path}")
