"""Expert vetting: the one way an expert profile's status changes (what it lets an expert be
sent is read in `labelhub.experts`). Below it, API tokens: made and revoked by their owner on
the tokens page, both audited.

The state machine is small on purpose:

    applied → vetted      (expert_vet)
    applied → rejected    (expert_reject)
    vetted → suspended    (expert_suspend)
    suspended → vetted    (expert_reinstate)

Rejected is final, and nothing else moves (vetting someone suspended is reinstating them, a
separate decision with its own audit entry). Every move records who made it and when, and is
written to the audit trail. Only staff move a status, and never their own.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from labelhub.accounts import is_staff
from labelhub.audit import Action, audit_record
from labelhub.models import ExpertProfile, User

Status = ExpertProfile.Status


def expert_profile_for(*, user: User) -> ExpertProfile:
    """The user's expert profile, created as a fresh application when they have none."""
    with transaction.atomic():
        profile, _ = ExpertProfile.objects.get_or_create(
            user=user, defaults={"vetting_status": Status.APPLIED}
        )
    return profile


def expert_vet(*, profile: ExpertProfile, by: User, request: HttpRequest | None = None) -> ExpertProfile:
    return _expert_move(
        profile=profile,
        by=by,
        request=request,
        source=Status.APPLIED,
        target=Status.VETTED,
        verb="vetted",
        action=Action.EXPERT_VETTED,
    )


def expert_reject(*, profile: ExpertProfile, by: User, request: HttpRequest | None = None) -> ExpertProfile:
    return _expert_move(
        profile=profile,
        by=by,
        request=request,
        source=Status.APPLIED,
        target=Status.REJECTED,
        verb="rejected",
        action=Action.EXPERT_REJECTED,
    )


def expert_suspend(*, profile: ExpertProfile, by: User, request: HttpRequest | None = None) -> ExpertProfile:
    return _expert_move(
        profile=profile,
        by=by,
        request=request,
        source=Status.VETTED,
        target=Status.SUSPENDED,
        verb="suspended",
        action=Action.EXPERT_SUSPENDED,
    )


def expert_reinstate(
    *, profile: ExpertProfile, by: User, request: HttpRequest | None = None
) -> ExpertProfile:
    return _expert_move(
        profile=profile,
        by=by,
        request=request,
        source=Status.SUSPENDED,
        target=Status.VETTED,
        verb="reinstated",
        action=Action.EXPERT_REINSTATED,
    )


def _expert_move(
    *,
    profile: ExpertProfile,
    by: User,
    request: HttpRequest | None,
    source: str,
    target: str,
    verb: str,
    action: str,
) -> ExpertProfile:
    if not is_staff(by):
        raise PermissionDenied("Only LabelHub staff vet experts.")
    if by.pk == profile.user_id:
        raise PermissionDenied("Nobody changes the vetting of their own expert profile.")
    with transaction.atomic():
        # Lock the row and read the status afresh: two admins acting at once must not both pass
        # the check against a status that one of them is about to change.
        current = (
            ExpertProfile.objects.select_for_update()
            .values_list("vetting_status", flat=True)
            .get(pk=profile.pk)
        )
        if current != source:
            raise ValidationError(
                "An expert profile cannot go from %(current)s to %(target)s: only %(source)s "
                "profiles can be %(verb)s.",
                code="invalid_transition",
                params={
                    "current": Status(current).label.lower(),
                    "target": Status(target).label.lower(),
                    "source": Status(source).label.lower(),
                    "verb": verb,
                },
            )
        profile.vetting_status = target
        profile.status_changed_by = by
        profile.status_changed_at = timezone.now()
        profile.full_clean(validate_unique=False)
        profile.save(update_fields=["vetting_status", "status_changed_by", "status_changed_at"])
        audit_record(
            action=action,
            actor=by,
            request=request,
            target=f"expert {profile.user.get_username()}",
            detail={"from": current, "to": target},
        )
    return profile


# --- API tokens: one per user; making a new one replaces the old, revoking deletes it ---


@transaction.atomic
def api_token_create(*, user: User, request: HttpRequest | None = None) -> Token:
    replaced = Token.objects.filter(user=user).delete()[0] > 0
    token = Token.objects.create(user=user)
    audit_record(action=Action.API_TOKEN_CREATED, actor=user, request=request, detail={"replaced": replaced})
    return token


@transaction.atomic
def api_token_revoke(*, user: User, request: HttpRequest | None = None) -> bool:
    """Delete the user's token; False when they had none."""
    revoked = Token.objects.filter(user=user).delete()[0] > 0
    if revoked:
        audit_record(action=Action.API_TOKEN_REVOKED, actor=user, request=request)
    return revoked
