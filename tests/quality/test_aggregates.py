"""Quality gives the pairs export its Dawid-Skene aggregate: registered when the app is ready,
so the export's every door lists it, though the export may not import this app."""

import pytest
from django.apps import apps
from django.core.management import load_command_class
from drf_spectacular.generators import SchemaGenerator

from annotations.exports import AGGREGATES, PairOptions
from annotations.forms import ApiExportForm, ExportForm
from annotations.queries import left_out_of_exports
from projects.models import Item
from quality.aggregates import DAWID_SKENE, dawid_skene_by_item, gold_answers
from tests.annotations.test_export_options import judge_items, outvoted  # noqa: F401 - a fixture
from tests.factories import ItemFactory


def test_the_quality_app_registers_dawid_skene_with_the_export():
    assert AGGREGATES["dawid_skene"] is DAWID_SKENE
    assert PairOptions(aggregate="dawid_skene").aggregate == "dawid_skene"
    # Ready again (when the app registry is rebuilt): the same aggregate, no error.
    apps.get_app_config("quality").ready()
    assert AGGREGATES["dawid_skene"] is DAWID_SKENE


def test_the_command_the_page_and_the_api_schema_list_dawid_skene():
    parser = load_command_class("annotations", "export_dataset").create_parser("manage.py", "export_dataset")
    (aggregate,) = [action for action in parser._actions if action.dest == "aggregate"]
    assert list(aggregate.choices) == ["none", "majority", "dawid_skene"]
    for form in (ExportForm(), ApiExportForm()):
        assert [value for value, _ in form.fields["aggregate"].choices] == ["none", "majority", "dawid_skene"]
    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/api/v1/projects/{slug}/export"]["get"]["parameters"]
    (listed,) = [parameter for parameter in parameters if parameter["name"] == "aggregate"]
    assert listed["schema"]["enum"] == ["none", "majority", "dawid_skene"]


def test_the_consensus_is_by_external_id_with_gold_items_held_at_their_answer(outvoted):  # noqa: F811
    decided = dawid_skene_by_item(outvoted, left_out_of_exports(outvoted))
    assert sorted(decided) == sorted(outvoted.items.values_list("external_id", flat=True))
    assert decided["g2"] == ("tie", 1.0) and decided["g0"] == ("b", 1.0)
    assert decided["i1"][0] == "b" and 0.5 < decided["i1"][1] < 1
    assert all(type(confidence) is float for _, confidence in decided.values())


@pytest.mark.parametrize("answer", [None, {"preference": "maybe"}], ids=["no answer", "unknown choice"])
def test_a_gold_item_without_a_usable_answer_is_not_held(acme, annotator, answer):
    acme.gold_percent = 50
    acme.save()
    gold = ItemFactory(project=acme, external_id="g", is_gold=True, gold_answer={"preference": "b"})
    ItemFactory(project=acme, external_id="r")
    judge_items(acme, annotator, {"g": "A", "r": "A"})
    assert gold_answers(acme, left_out_of_exports(acme)) == {gold.pk: "b"}
    Item.objects.filter(pk=gold.pk).update(gold_answer=answer)  # as a row written before the checks may hold
    assert gold_answers(acme, left_out_of_exports(acme)) == {}
    assert dawid_skene_by_item(acme, left_out_of_exports(acme))["g"][0] == "a"
