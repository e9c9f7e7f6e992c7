"""Qualification items come in by the import (JSONL and CSV) or are marked in the admin; only gold
items can be one, and an answered item keeps its use."""

import json

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from projects.importing import parse_items
from projects.models import Item, Project
from tests.factories import FixedDraws, ItemFactory
from tests.projects.test_import import row, run_import, write_jsonl
from tests.quality.test_controls import answer, gold_item


def test_the_import_takes_qualification_items_from_jsonl_and_csv(acme, tmp_path):
    run_import(
        acme.slug,
        str(
            write_jsonl(tmp_path / "i.jsonl", [row("q1", gold="a", qualification=True), row("g1", gold="b")])
        ),
    )
    csv_path = tmp_path / "items.csv"
    csv_path.write_text("id,prompt,response_a,response_b,gold,qualification\nq2,q,a,b,tie,yes\nw2,q,a,b,,\n")
    run_import(acme.slug, str(csv_path))
    found = {i.external_id: (i.is_gold, i.is_qualification) for i in Item.objects.filter(project=acme)}
    assert found == {"q1": (True, True), "g1": (True, False), "q2": (True, True), "w2": (False, False)}


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("jsonl", json.dumps(row("q", qualification=True)), "1: a 'qualification' item is a gold item"),
        (
            "jsonl",
            json.dumps(row("q", gold="a", qualification="yes")),
            "1: 'qualification' must be true or false, got str",
        ),
        (
            "jsonl",
            json.dumps(row("q", gold="a", qualification=1)),
            "1: 'qualification' must be true or false",
        ),
        (
            "csv",
            "id,prompt,response_a,response_b,gold,qualification\nq,p,a,b,a,maybe\n",
            "2: 'qualification' must be true or false, got 'maybe'",
        ),
        (
            "csv",
            "id,prompt,response_a,response_b,qualification\nq,p,a,b,true\n",
            "2: a 'qualification' item is a gold item",
        ),
    ],
)
def test_a_bad_qualification_flag_is_refused_with_its_line(fmt, text, message):
    result = parse_items(text, fmt=fmt)
    assert result.items == []
    assert result.errors[0].format("items").startswith(f"items:{message}")


def test_the_database_refuses_a_qualification_item_that_is_not_gold(acme):
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemFactory(project=acme, external_id="x", is_qualification=True)


def test_a_manager_marks_gold_items_for_the_qualification_in_the_admin(acme, manager, annotator, client):
    Project.objects.filter(pk=acme.pk).update(gold_percent=50)
    acme.refresh_from_db()
    answered = gold_item(acme, "g-answered")
    ItemFactory(project=acme, external_id="work")
    for _ in range(2):
        answer(acme, annotator, correct=True, rng=FixedDraws(0.0))
    assert answered.annotations.exists()
    gold = gold_item(acme, "g-free")
    plain = ItemFactory(project=acme, external_id="plain")
    client.force_login(manager)
    response = client.post(
        reverse("admin:projects_item_changelist"),
        {"action": "mark_qualification", "_selected_action": [gold.pk, plain.pk, answered.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "1 item(s) changed." in page
    assert "Item plain: only a gold item" in page and "Item g-answered: already answered" in page
    marked = set(
        Item.objects.filter(project=acme, is_qualification=True).values_list("external_id", flat=True)
    )
    assert marked == {"g-free"}
    client.post(
        reverse("admin:projects_item_changelist"),
        {"action": "unmark_qualification", "_selected_action": [gold.pk]},
    )
    assert not Item.objects.filter(project=acme, is_qualification=True).exists()
