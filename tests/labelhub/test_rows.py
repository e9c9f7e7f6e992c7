"""Hand-written and compiled statements read and write model rows exactly as the ORM does, on
either database."""

import ast
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotations.models import Annotation, Assignment, Draft, Skip
from annotations.services import Judgment, annotation_submit, assignment_next
from labelhub.rows import Compiled, columns, fetch, insert
from projects.models import Item
from tests.factories import ItemFactory

ROOT = Path(__file__).resolve().parents[2]


def values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_fetch_reads_joined_rows_as_the_orm_does(acme, annotator):
    item = Item.objects.create(
        project=acme,
        external_id="x-1",
        prompt=[{"role": "user", "content": "Größe? ☃"}],
        is_chat=True,
        metadata={"source": "s", "n": 3, "nested": {"ok": True}},
        content_hash="h",
        gold_answer={"preference": "a"},
    )
    assignment = assignment_next(project=acme, expert=annotator)
    assert assignment.item_id == item.pk

    found = fetch(
        f"""SELECT {columns(Assignment, "a")}, {columns(Item, "i")}
            FROM annotations_assignment a JOIN projects_item i ON i.id = a.item_id WHERE a.id = %s""",
        [assignment.pk],
        Assignment,
        Item,
    )

    read_assignment, read_item = found
    assert values(read_assignment) == values(Assignment.objects.get(pk=assignment.pk))
    assert values(read_item) == values(Item.objects.get(pk=item.pk))
    assert read_item.prompt[0]["content"] == "Größe? ☃" and read_item.metadata["nested"] == {"ok": True}
    assert read_assignment.expires_at.tzinfo is not None
    assert not read_assignment._state.adding and read_assignment._state.db == "default"


def test_fetch_reads_uuids_and_gives_none_without_a_row(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    key = uuid.uuid4()
    annotation_submit(
        assignment=assignment, expert=annotator, judgment=Judgment("A", 2, ""), idempotency_key=key
    )

    (annotation,) = fetch(
        f"SELECT {columns(Annotation, 'n')} FROM annotations_annotation n WHERE n.idempotency_key = %s",
        [Annotation._meta.get_field("idempotency_key").get_db_prep_value(key, connection)],
        Annotation,
    )

    assert annotation.idempotency_key == key
    assert values(annotation) == values(Annotation.objects.get(idempotency_key=key))
    missing = f"SELECT {columns(Annotation, 'n')} FROM annotations_annotation n WHERE n.id = %s"
    assert fetch(missing, [-1], Annotation) is None


def test_insert_stores_what_save_would(acme, acme_items, annotator):
    assignment = assignment_next(project=acme, expert=annotator)
    before = timezone.now()
    skip = Skip(project=acme, item=acme_items[1], expert=annotator, reason="expertise", note="née")
    draft = Draft(assignment=assignment, fields={"rationale": ["Ça va"]}, saved_at=before)

    insert(skip)
    insert(draft)

    assert skip.pk is not None and not skip._state.adding
    assert skip.created_at >= before  # auto_now_add, set as save() sets it
    assert values(Skip.objects.get(pk=skip.pk)) == values(skip)
    assert values(Draft.objects.get(pk=draft.pk)) == values(draft)


def test_a_compiled_queryset_gives_the_orms_rows_for_new_values_compiling_once_per_shape(
    acme, globex, annotator
):
    items = [ItemFactory(project=p, external_id=f"c-{n}") for p in (acme, globex) for n in range(4)]
    now = timezone.now()
    Assignment.objects.create(
        project=acme,
        item=items[1],
        expert=annotator,
        leased_at=now,
        expires_at=now + timezone.timedelta(hours=1),
    )
    built = []

    def leased_or_named(*, project: int, names: list[str], now) -> QuerySet[Item]:
        built.append(project)
        leased = Q(assignments__expires_at__gt=now)
        return Item.objects.filter(leased | Q(external_id__in=names), project_id=project).order_by("-pk")

    compiled = Compiled(leased_or_named)
    for project, names in [
        (acme, ["c-0"]),
        (globex, ["c-2"]),
        (acme, ["c-3", "c-2"]),
        (globex, ["c-0", "c-1"]),
        (acme, []),
    ]:
        sql, params = compiled.sql(project=project.pk, names=names, now=now)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            got = [row[0] for row in cursor.fetchall()]
        expected = leased_or_named(project=project.pk, names=names, now=now)
        assert got == list(expected.values_list("pk", flat=True))
        first = compiled.first(project=project.pk, names=names, now=now)
        assert values(first) == values(expected.first())
    # Compiled once for each length of `names`, from stand-ins (the other builds are the ORM's here).
    assert len([project for project in built if project not in (acme.pk, globex.pk)]) == 3


def test_a_value_the_orm_writes_into_the_sql_text_is_refused_when_compiling(acme):
    compiled = Compiled(lambda *, project, n: Item.objects.filter(project_id=project)[:n])
    with pytest.raises(ValueError, match="n"):
        compiled.sql(project=acme.pk, n=3)


PREPARED = {"server_side_binding": True, "prepare_threshold": 5}


@pytest.mark.parametrize(
    ("setting", "url_options", "expected"),
    [
        (None, "", PREPARED),
        ("1", "", PREPARED),
        ("0", "", {}),
        (None, "?sslmode=require", {"sslmode": "require", **PREPARED}),  # the URL's own options are kept
        ("0", "?sslmode=require", {"sslmode": "require"}),
    ],
)
def test_postgresql_statements_are_prepared_unless_turned_off(setting, url_options, expected):
    probe = "from labelhub import settings; print(repr(settings.DATABASES['default'].get('OPTIONS', {})))"
    url = f"postgres://someone@db.invalid:5432/labelhub{url_options}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "k" * 50}
    env.pop("DB_PREPARED_STATEMENTS", None)
    if setting is not None:
        env["DB_PREPARED_STATEMENTS"] = setting
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ast.literal_eval(done.stdout.strip()) == expected


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_a_statement_run_often_is_prepared_once_by_postgresql():
    with connection.cursor() as cursor:
        for n in range(6):
            cursor.execute("SELECT %s + 1 AS labelhub_probe", [n])
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%labelhub_probe%"]
        )
        assert cursor.fetchone()[0] == 1
