"""A project's quality figures, as the project page and the API show them.

Reads the project's annotations (plain values: `quality.signals.annotation_frame`), builds the
frames of `quality.frames`, and asks `quality.agreement` and `quality.bias` for the figures. Figures with
too little data are None, never a misleading 0. Experts are named as the viewer may know them:
by username for the vendor's managers, by pseudonym for everyone else.

Only labels count (`annotations.queries.is_label`): a qualification's answers test an expert and
are shown as the expert's qualification, never as labels or gold accuracy. Every current expert
member has a row, labels or not (one still qualifying, or who failed, may have none), with their
status as serving reads it (`annotations.eligibility.standing_of`).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from django.utils import timezone

from annotations.eligibility import ExpertStanding, Standing, standing_of
from annotations.models import Annotation
from annotations.queries import is_label
from labelhub.pseudonyms import annotator_pseudonym
from projects.models import Membership, Project
from quality.agreement import EXPERT, agreement_figures, expert_consensus
from quality.bias import gold_accuracy, length_bias, position_bias, rationale_integrity, records, speed
from quality.frames import judgment_frames
from quality.models import QualificationAttempt
from quality.signals import annotation_frame, floor_of

# An expert's `status` in the report, from their standing: at work they are "active".
STATUS = {
    Standing.WORK: "active",
    Standing.QUALIFYING: "qualifying",
    Standing.PAUSED: "paused",
    Standing.FAILED: "failed",
}


@dataclass(frozen=True)
class QualityReport:
    agreement: dict[str, Any]
    experts: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"agreement": self.agreement, "experts": self.experts}


def _expert_members(project: Project) -> dict[int, Membership]:
    """The project's current expert memberships, by user id, with the username (one read)."""
    memberships = (
        Membership.objects.filter(project=project, role=Membership.Role.EXPERT, ended_at__isnull=True)
        .select_related("user")
        .only("user__username", "quality_status", "qualified_at", "retake_after")
    )
    return {membership.user_id: membership for membership in memberships}


def _qualifications(project: Project, standings: dict[int, ExpertStanding]) -> dict[int, dict[str, Any]]:
    """Per expert: their completed attempts, the latest one, and the attempt under way (answers
    so far) while they qualify. Two reads, whatever the number of experts."""
    attempts: dict[int, list[QualificationAttempt]] = {}
    for attempt in QualificationAttempt.objects.filter(project=project).order_by("finished_at", "pk"):
        attempts.setdefault(attempt.expert_id, []).append(attempt)
    qualifying = {
        user_id: standing.attempt_since
        for user_id, standing in standings.items()
        if standing.standing == Standing.QUALIFYING
    }
    so_far = dict.fromkeys(qualifying, 0)
    if qualifying:
        # `annotations.eligibility.qualification_answers` for all of them at once: the answers
        # that are not labels, from when the current attempt opened (None: the first attempt).
        answers = (
            Annotation.objects.filter(project=project, expert__in=list(qualifying))
            .exclude(is_label())
            .values_list("expert_id", "submitted_at")
        )
        for user_id, submitted_at in answers:
            since = qualifying[user_id]
            if since is None or submitted_at >= since:
                so_far[user_id] += 1
    return {
        user_id: {
            "attempts": len(attempts.get(user_id, [])),
            "latest": _attempt(attempts[user_id][-1]) if user_id in attempts else None,
            "current": {"answered": so_far[user_id]} if user_id in so_far else None,
        }
        for user_id in standings
    }


def _attempt(attempt: QualificationAttempt) -> dict[str, Any]:
    return {
        "passed": attempt.passed,
        "correct": attempt.correct,
        "answered": attempt.answered,
        "percent": attempt.percent,
        "pass_percent": attempt.pass_percent,
        "finished_at": attempt.finished_at,
    }


def project_quality(
    project: Project, *, identify_experts: bool = False, now: datetime | None = None
) -> QualityReport:
    frames = judgment_frames(project)
    agreement = agreement_figures(
        choices=frames.choices, strengths=frames.strengths, criteria=frames.criteria
    )
    if not project.rates:
        agreement.pop("krippendorff_alpha_interval", None)
    annotated = annotation_frame(project)
    judged = annotated[annotated["preference"] != ""]
    # Every label counts (rubric-only ones too): one read gives counts and names.
    labellers = pd.DataFrame(
        list(
            Annotation.objects.filter(is_label(), project=project)
            .order_by()
            .values_list("expert_id", "expert__username")
        ),
        columns=[EXPERT, "username"],
    )
    members = _expert_members(project)
    now = now or timezone.now()
    # Staff label without a membership (and a former member keeps their labels): as serving
    # reads it, no membership is no hold on them.
    labelled = set(labellers[EXPERT])
    standings = {
        user_id: standing_of(members.get(user_id), project=project, now=now, labelled=user_id in labelled)
        for user_id in sorted(labelled | set(members))
    }
    table = pd.DataFrame({"labels": labellers[EXPERT].value_counts().reindex(list(standings), fill_value=0)})
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
    usernames = (
        {
            **dict(zip(labellers[EXPERT], labellers["username"], strict=True)),
            **{user_id: membership.user.username for user_id, membership in members.items()},
        }
        if identify_experts
        else {}
    )
    # Null where the project asks for no qualification, and for those who need none (staff).
    qualifications = (
        _qualifications(project, {user_id: standings[user_id] for user_id in members})
        if project.qualification_items
        else {}
    )
    experts = []
    for row in records(table, index=EXPERT):
        user_id = row[EXPERT]
        experts.append(
            {
                "annotator": annotator_pseudonym(project_id=project.pk, user_id=user_id),
                # The id names the expert's rows for their managers' actions; the API leaves it out.
                **({"username": usernames.get(user_id), "user_id": user_id} if identify_experts else {}),
                "labels": row["labels"],
                "gold_answered": row.get("answered") or 0,
                "gold_accuracy": row.get("accuracy"),
                "gold_interval": [row["low"], row["high"]] if row.get("low") is not None else None,
                "status": STATUS[standings[user_id].standing],
                "qualification": qualifications.get(user_id),
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
