"""The pairs export's skill-aware aggregate, `--aggregate dawid_skene`: one pair per item whose
Dawid-Skene consensus prefers a response, with that consensus's probability as its confidence.

The export lives in `annotations`, which may not import this app; `QualityConfig.ready()`
registers the aggregate there, and the command, the export page and the API list it from the
export's registry like the aggregates of its own.
"""

from annotations.exports import Aggregate
from annotations.models import Annotation
from annotations.queries import LeftOut, gold_expected
from projects.models import Item, Project
from projects.vocabulary import Preference


def gold_answers(project: Project, left_out: LeftOut) -> dict[int, str]:
    """The expected choice of each judged gold item of `project`, by item id; a gold item without
    one that is a choice (a row older than the import's checks) is left to the experts."""
    expected = (
        left_out.apply(Annotation.objects.filter(project=project, item__is_gold=True))
        .annotate(expected=gold_expected())
        .order_by()
        .values_list("item_id", "expected")
        .distinct()
    )
    # Checked here, not with `expected__in`: SQLite reads the values of that lookup as JSON.
    return {item: answer for item, answer in expected if answer in Preference.values}


def dawid_skene_by_item(project: Project, left_out: LeftOut) -> dict[str, tuple[str, float]]:
    """Each judged item's Dawid-Skene choice and its posterior, by external id, from the
    judgments the export keeps (`left_out`); gold items are held at their answer."""
    # pandas and scipy load when an export asks for them, not whenever the app registry is ready
    # (every command's start).
    from quality.agreement import VALUE
    from quality.consensus import dawid_skene
    from quality.frames import judgment_frames

    kept = left_out.apply(Annotation.objects.all())
    choices = judgment_frames(project, annotations=kept).choices.rename(columns={VALUE: "label"})
    items = dawid_skene(choices, gold=gold_answers(project, left_out)).items
    external_ids = dict(Item.objects.filter(project=project).values_list("pk", "external_id"))
    return {
        external_ids[item]: (choice, float(confidence))
        for item, choice, confidence in zip(items.index, items["label"], items["confidence"], strict=True)
    }


DAWID_SKENE = Aggregate(
    name="dawid_skene",
    label="Dawid-Skene per item (weighs each expert by their record)",
    consensus=dawid_skene_by_item,
)
