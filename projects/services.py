"""Writes to projects, memberships, guidelines and items. One function per action."""

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from guardian.shortcuts import assign_perm, remove_perm

from labelhub.models import User
from projects.importing import ItemRecord, LineError
from projects.models import Guideline, Item, Membership, Project, Response
from projects.permissions import ROLE_PERMS


@transaction.atomic
def membership_grant(*, project: Project, user: User, role: str) -> Membership:
    """Make `user` a member of `project` with `role`, replacing any role they had there."""
    if role not in ROLE_PERMS:
        raise ValueError(f"unknown role {role!r}")
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is not None:
        for perm in ROLE_PERMS[membership.role]:
            remove_perm(f"projects.{perm}", user, project)
        membership.role = role
    else:
        membership = Membership(project=project, user=user, role=role)
    membership.full_clean(validate_unique=False)
    membership.save()
    for perm in ROLE_PERMS[role]:
        assign_perm(f"projects.{perm}", user, project)
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership) -> None:
    for perm in ROLE_PERMS[membership.role]:
        remove_perm(f"projects.{perm}", membership.user, membership.project)
    membership.delete()


@transaction.atomic
def guideline_publish(*, project: Project, body: str, author: User | None) -> Guideline:
    """Add a new version of the project's guidelines; earlier versions stay as they were."""
    # Lock the project so two editors saving at once get versions n+1 and n+2, not a clash.
    # NO KEY UPDATE: it must not block the foreign-key checks of experts writing meanwhile.
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    latest = project.guidelines.aggregate(v=Max("version"))["v"] or 0
    guideline = Guideline(project=project, version=latest + 1, body=body, created_by=author)
    guideline.full_clean()
    guideline.save()
    return guideline


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRejected(Exception):
    def __init__(self, errors: list[LineError]):
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


def _stored_hashes(project: Project) -> dict[str, str]:
    return dict(Item.objects.filter(project=project).values_list("external_id", "content_hash"))


def items_plan(
    *, project: Project, records: list[ItemRecord], update: bool, stored: dict[str, str] | None = None
) -> ImportReport:
    """What importing `records` would do, and every conflict with stored items. Writes nothing."""
    report = ImportReport()
    if stored is None:
        stored = _stored_hashes(project)
    # Items that already carry judgments keep their content: changing it would silently
    # change what those judgments mean.
    labelled = set()
    if update:
        changed_ids = [
            r.external_id for r in records if stored.get(r.external_id, r.content_hash) != r.content_hash
        ]
        labelled = set(
            Item.objects.filter(
                project=project, external_id__in=changed_ids, annotations__isnull=False
            ).values_list("external_id", flat=True)
        )
    for record in records:
        old_hash = stored.get(record.external_id)
        if old_hash is None:
            report.created += 1
        elif old_hash == record.content_hash:
            report.unchanged += 1
        elif not update:
            report.errors.append(
                LineError(
                    record.line,
                    f"item {record.external_id!r} already exists with different content "
                    "(use --update to replace it)",
                )
            )
        elif record.external_id in labelled:
            report.errors.append(
                LineError(
                    record.line,
                    f"item {record.external_id!r} already has annotations; its content cannot change",
                )
            )
        else:
            report.updated += 1
    return report


def _build_responses(item: Item, record: ItemRecord) -> list[Response]:
    return [
        Response(item=item, position=position, content=content, model=model)
        for position, (content, model) in enumerate(record.responses)
    ]


@transaction.atomic
def items_import(
    *, project: Project, records: list[ItemRecord], update: bool = False, batch_size: int = 2000
) -> ImportReport:
    """Store `records` in `project`, all or nothing. Raises ImportRejected on any conflict."""
    # Serialise imports into one project so that two uploads cannot both create the same id.
    Project.objects.select_for_update(no_key=True).get(pk=project.pk)
    stored = _stored_hashes(project)
    report = items_plan(project=project, records=records, update=update, stored=stored)
    if report.errors:
        raise ImportRejected(report.errors)
    new_records = [r for r in records if r.external_id not in stored]
    changed = [r for r in records if stored.get(r.external_id, r.content_hash) != r.content_hash]

    for start in range(0, len(new_records), batch_size):
        chunk = new_records[start : start + batch_size]
        items = Item.objects.bulk_create([_build_item(project, record) for record in chunk])
        Response.objects.bulk_create(
            [
                resp
                for item, record in zip(items, chunk, strict=True)
                for resp in _build_responses(item, record)
            ]
        )
    if changed:
        by_id = {
            item.external_id: item
            for item in Item.objects.filter(project=project, external_id__in=[r.external_id for r in changed])
        }
        for record in changed:
            item = by_id[record.external_id]
            item.prompt, item.is_chat = record.prompt, record.is_chat
            item.domain, item.metadata = record.domain, record.metadata
            item.content_hash = record.content_hash
            item.save()
            item.responses.all().delete()
            Response.objects.bulk_create(_build_responses(item, record))
    return report


def _build_item(project: Project, record: ItemRecord) -> Item:
    return Item(
        project=project,
        external_id=record.external_id,
        prompt=record.prompt,
        is_chat=record.is_chat,
        domain=record.domain,
        metadata=record.metadata,
        content_hash=record.content_hash,
    )
