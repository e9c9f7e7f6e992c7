"""A project's rubric: the criteria experts rate responses on, in numbered versions.

A version that has ratings is frozen, so every rating keeps meaning what it meant when it was
made: saving changes to it creates the next version instead.
"""

from dataclasses import dataclass, fields

from django.db import transaction
from django.db.models import Max

from projects.models import Project, Response, RubricCriterion


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    label: str
    description: str = ""
    scale_min: int = 1
    scale_max: int = 5
    scale_texts: str = ""
    required: bool = True
    asks_rationale: bool = False

    @classmethod
    def of(cls, criterion: RubricCriterion) -> "CriterionSpec":
        return cls(**{f.name: getattr(criterion, f.name) for f in fields(cls)})


def current_version(project: Project) -> int | None:
    return project.criteria.aggregate(v=Max("version"))["v"]


def current_criteria(project: Project) -> list[RubricCriterion]:
    version = current_version(project)
    return list(project.criteria.filter(version=version)) if version else []


def version_is_rated(project: Project, version: int) -> bool:
    return Response.objects.filter(item__project=project, ratings__rubric_version=version).exists()


@transaction.atomic
def rubric_save(*, project: Project, criteria: list[CriterionSpec]) -> int | None:
    """Make `criteria` (in order) the project's rubric; returns the version that now holds them.

    Unchanged criteria change nothing. Changes to a version that has ratings go to a new version.
    """
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    version = current_version(project)
    existing = current_criteria(project)
    if [CriterionSpec.of(c) for c in existing] == list(criteria):
        return version
    if version is not None and version_is_rated(project, version):
        version += 1
    else:
        version = version or 1
        project.criteria.filter(version=version).delete()
    for position, spec in enumerate(criteria):
        criterion = RubricCriterion(project=project, version=version, position=position, **vars(spec))
        criterion.full_clean()
        criterion.save()
    return version if criteria else current_version(project)
