"""A project's quality figures, as the project page and the API show them.

Reads the project's annotations (plain values: `quality.signals.annotation_frame`), builds the
frames of `quality.frames`, and asks `quality.agreement` and `quality.bias` for the figures. Figures with
too little data are None, never a misleading 0. Experts are named as the viewer may know them:
by username for the vendor's managers, by pseudonym for everyone else.
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd

from annotations.models import Annotation
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Project
from quality.agreement import EXPERT, agreement_figures, expert_consensus
from quality.bias import gold_accuracy, length_bias, position_bias, rationale_integrity, records, speed
from quality.frames import judgment_frames
from quality.signals import annotation_frame, floor_of

# Every expert is active until the quality controls that pause experts exist.
ACTIVE = "active"


@dataclass(frozen=True)
class QualityReport:
    agreement: dict[str, Any]
    experts: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "experts": self.experts}


def project_quality(project: Project, *, identify_experts: bool = False) -> QualityReport:
    frames = judgment_frames(project)
    agreement = agreement_figures(
        choices=frames.choices, strengths=frames.strengths, criteria=frames.criteria
    )
    if not project.rates:
        agreement.pop("krippendorff_alpha_interval", None)
    annotated = annotation_frame(project)
    judged = annotated[annotated["preference"] != ""]
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
        table = table.join(length_bias(judged)[["longer_share"]])
        floor = floor_of(project)
        pace = speed(judged, floor=floor)
        table = table.join(pace[["median_seconds_per_1k_chars", *(["too_fast_share"] if floor else [])]])
    if len(annotated):
        table = table.join(rationale_integrity(annotated)[["paste_share", "repeated_share", "short_share"]])
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
                "too_fast_share": row.get("too_fast_share"),
                "longer_share": row.get("longer_share"),
                "paste_share": row.get("paste_share"),
                "repeated_share": row.get("repeated_share"),
                "short_share": row.get("short_share"),
            }
        )
    return QualityReport(agreement=agreement, experts=experts)
