"""A project's quality figures, as the project page and the API show them.

Reads the project's annotations (one query, plain values), builds the frames of
`quality.frames`, and asks `quality.agreement` and `quality.bias` for the figures. Figures with
too little data are None, never a misleading 0. Experts are named as the viewer may know them:
by username for the vendor's managers, by pseudonym for everyone else.
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db.models.functions import Length

from annotations.models import Annotation
from annotations.queries import gold_expected
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project, Response
from quality.agreement import EXPERT, agreement_figures, expert_consensus
from quality.bias import gold_accuracy, position_bias, records, speed
from quality.frames import judgment_frames

# Every expert is active until the quality controls that pause experts exist.
ACTIVE = "active"


@dataclass(frozen=True)
class QualityReport:
    agreement: dict[str, Any]
    experts: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "experts": self.experts}


def _judgments(project: Project) -> pd.DataFrame:
    rows = (
        Annotation.objects.filter(project=project)
        .exclude(preference="")
        .values_list(
            "expert_id",
            "item_id",
            "preference",
            "assignment__shown_left",
            "active_seconds",
            "item__is_gold",
            "item__prompt",
        )
        .annotate(expected=gold_expected())
        .order_by("pk")
    )
    frame = pd.DataFrame(
        list(rows),
        columns=[
            EXPERT,
            "item",
            "preference",
            "shown_left",
            "active_seconds",
            "is_gold",
            "prompt",
            "gold",
        ],
    )
    lengths = pd.DataFrame(
        list(
            Response.objects.filter(item__project=project, position__in=(0, 1))
            .annotate(chars=Length("content"))
            .values_list("item_id", "position", "chars")
        ),
        columns=["item", "position", "chars"],
    )
    read = lengths.groupby("item")["chars"].sum() if len(lengths) else pd.Series(dtype="int64")
    frame["chars_read"] = frame["item"].map(read).fillna(0) + frame["prompt"].map(_prompt_chars)
    return frame


def _prompt_chars(prompt: Any) -> int:
    """The characters an expert reads in a prompt: its text, or its messages' contents."""
    if isinstance(prompt, str):
        return len(prompt)
    if isinstance(prompt, list):
        return sum(len(str(turn.get("content", ""))) for turn in prompt if isinstance(turn, dict))
    return 0


def project_quality(project: Project, *, identify_experts: bool = False) -> QualityReport:
    frames = judgment_frames(project)
    agreement = agreement_figures(
        choices=frames.choices, strengths=frames.strengths, criteria=frames.criteria
    )
    if not project.rates:
        agreement.pop("krippendorff_alpha_interval", None)
    judged = _judgments(project)
    # Every annotation counts as a label (rubric-only ones too): one read gives counts and names.
    labellers = pd.DataFrame(
        list(
            Annotation.objects.filter(project=project).order_by().values_list("expert_id", "expert__username")
        ),
        columns=[EXPERT, "username"],
    )
    table = pd.DataFrame({"labels": labellers[EXPERT].value_counts()}).sort_index()
    gold = judged[judged["is_gold"]]
    if len(gold):
        accuracy = gold_accuracy(
            pd.DataFrame({EXPERT: gold[EXPERT], "correct": gold["preference"] == gold["gold"]})
        )
        table = table.join(accuracy[["answered", "accuracy", "low", "high"]])
    if len(judged):
        consensus = expert_consensus(frames.choices)
        table = table.join(consensus[["agreement"]].rename(columns={"agreement": "agreement_with_consensus"}))
        table = table.join(position_bias(judged)[["left_share", "left_p_value"]])
        table = table.join(speed(judged)[["median_seconds_per_1k_chars"]])
    usernames = dict(zip(labellers[EXPERT], labellers["username"], strict=True)) if identify_experts else {}
    experts = []
    for row in records(table, index=EXPERT):
        user_id = row[EXPERT]
        experts.append(
            {
                "annotator": annotator_pseudonym(project_id=project.pk, user_id=user_id),
                **({"username": usernames.get(user_id)} if identify_experts else {}),
                "labels": row["labels"],
                "gold_answered": row.get("answered") or 0,
                "gold_accuracy": row.get("accuracy"),
                "gold_interval": [row["low"], row["high"]] if row.get("low") is not None else None,
                "status": ACTIVE,
                "agreement_with_consensus": row.get("agreement_with_consensus"),
                "left_share": row.get("left_share"),
                "left_p_value": row.get("left_p_value"),
                "median_seconds_per_1k_chars": row.get("median_seconds_per_1k_chars"),
            }
        )
    return QualityReport(agreement=agreement, experts=experts)
