"""A project's judgments as the frames `quality.agreement` reads: one row per judgment with the
columns item, expert and value, read with one query each as plain values (no model instances).

How the labels map in:
- `choices`, nominal: the preference, one of `Preference`'s values (a, b, tie, both_bad), in the
  item's own terms ("a" is the item's first response, whichever side it was shown on).
- `strengths`, ordinal from -3 to +3: the preference and its strength on one scale running from
  A to B. "A is better" by s is -s, "B is better" by s is +s, a tie is 0. "Both are bad" puts
  neither response ahead, so it has no place on that scale and is left out, as is a preference
  given without a strength (a project that asks for none).
- `criteria`, interval, one frame per rubric criterion (by key, in rubric order): the unit judged
  is a response, so `item` holds the response's id; the value is its score. Responses flagged as
  not ratable, and criteria left unscored, have no value. A key keeps one frame across rubric
  versions: a version that changes what a criterion means should give it a new key.
`expert` is the expert's user id, for the caller to show as it may (a pseudonym, say).

Every label of the project counts, gold checks included; a qualification's answers are not
labels (`annotations.queries.is_label`) and never count. `annotations` narrows them (to leave out
a paused expert, say), and never reaches beyond the project.
"""

from dataclasses import dataclass, field

import pandas as pd
from django.db.models import QuerySet

from annotations.models import Annotation, Rating
from annotations.queries import is_label
from projects.models import Project
from projects.vocabulary import Preference
from quality.agreement import EXPERT, ITEM, VALUE

COLUMNS = [ITEM, EXPERT, VALUE]

# Where each preference puts the judgment on the strength scale: A's side is negative.
SIDES = {Preference.A.value: -1, Preference.B.value: 1, Preference.TIE.value: 0}


@dataclass(frozen=True)
class JudgmentFrames:
    choices: pd.DataFrame
    strengths: pd.DataFrame
    criteria: dict[str, pd.DataFrame] = field(default_factory=dict)


def choice_frame(judged: pd.DataFrame) -> pd.DataFrame:
    """The choices of `judged` (columns item, expert, preference, strength), as a nominal frame."""
    chose = judged[judged["preference"] != ""]
    return pd.DataFrame(
        {
            ITEM: chose[ITEM].to_numpy(),
            EXPERT: chose[EXPERT].to_numpy(),
            VALUE: chose["preference"].to_numpy(),
        },
        columns=COLUMNS,
    )


def strength_frame(judged: pd.DataFrame) -> pd.DataFrame:
    """The signed strengths of `judged` (columns item, expert, preference, strength), as an
    ordinal frame from -3 (A much better) to +3 (B much better), a tie 0; see the module."""
    side = judged["preference"].map(SIDES)
    # A tie has no strength stored: it sits at 0 whatever the scale.
    strength = pd.to_numeric(judged["strength"], errors="coerce").where(side != 0, 0)
    signed = side * strength
    placed = signed.notna()
    return pd.DataFrame(
        {
            ITEM: judged.loc[placed, ITEM].to_numpy(),
            EXPERT: judged.loc[placed, EXPERT].to_numpy(),
            VALUE: signed[placed].astype(int).to_numpy(),
        },
        columns=COLUMNS,
    )


def criterion_frames(scored: pd.DataFrame, keys: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """One interval frame per criterion from `scored` (columns item, expert, scores: a response's
    id, its rater, and their {criterion key: score}), in the order of `keys`, then any others."""
    if scored.empty:
        return {}
    scores = pd.DataFrame(scored["scores"].tolist(), index=scored.index)
    found = list(scores.columns)
    ordered = [key for key in keys or [] if key in found] + sorted(set(found) - set(keys or []))
    frames = {}
    for key in ordered:
        rated = scores[key].notna()
        frames[key] = pd.DataFrame(
            {
                ITEM: scored.loc[rated, ITEM].to_numpy(),
                EXPERT: scored.loc[rated, EXPERT].to_numpy(),
                VALUE: pd.to_numeric(scores.loc[rated, key]).to_numpy(),
            },
            columns=COLUMNS,
        )
    return frames


def judgment_frames(project: Project, *, annotations: QuerySet[Annotation] | None = None) -> JudgmentFrames:
    """`project`'s judgments as agreement frames (see the module); `annotations` narrows them."""
    annotations = (Annotation.objects.all() if annotations is None else annotations).filter(
        is_label(), project=project
    )
    judged = pd.DataFrame.from_records(
        list(
            annotations.exclude(preference="")
            .order_by("pk")
            .values_list("item_id", "expert_id", "preference", "strength")
        ),
        columns=[ITEM, EXPERT, "preference", "strength"],
    )
    scored = pd.DataFrame.from_records(
        list(
            Rating.objects.filter(annotation__in=annotations, not_ratable=False)
            .order_by("pk")
            .values_list("response_id", "annotation__expert_id", "scores")
        ),
        columns=[ITEM, EXPERT, "scores"],
    )
    keys = list(
        dict.fromkeys(project.criteria.order_by("-version", "position", "id").values_list("key", flat=True))
    )
    return JudgmentFrames(
        choices=choice_frame(judged),
        strengths=strength_frame(judged),
        criteria=criterion_frames(scored, keys),
    )
