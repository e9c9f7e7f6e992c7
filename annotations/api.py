"""The labelling API (what the labelling page does, for experts' own tools), and the ML
engineers' project detail and export.

Views only parse input, call the service and serialise output. Input serializers are strict: a
field they do not declare is refused with 400 and named, so nobody can slip `project`,
`annotator`, `role` or `preference` into a write (mass assignment).
"""

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations import services
from annotations.downloads import export_download
from annotations.eligibility import expert_standing, standing_notice
from annotations.forms import ApiExportForm
from annotations.judging import DISPLAY_CHOICES, Judgment, judgment_errors
from annotations.models import ACTIVE_SECONDS_MAX, RATIONALE_MAX_CHARS, Annotation, Assignment
from annotations.progress import project_progress
from annotations.queries import own_assignment, response_texts
from labelhub.authentication import TokenAuthentication
from labelhub.openapi import error_response, query_parameters, wrong_json_types
from labelhub.resilience import safe_to_retry
from projects.api import ProjectSerializer
from projects.permissions import Perm, has_project_perm, project_for


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise ValidationError({name: ["This field is not accepted here."] for name in unknown})
        wrong = wrong_json_types(self.fields, data)
        if wrong:
            raise ValidationError(wrong)
        return super().to_internal_value(data)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """The schema says what `StrictSerializer` enforces: no field beyond those declared."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class UUIDStringField(serializers.UUIDField):
    """A UUID in its canonical text form, as the schema's `format: uuid` says (DRF's own field
    also reads integers, braces and undashed hex)."""

    CANONICAL = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not self.CANONICAL.match(data):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


LEASE_LOST = error_response("The lease on this item has ended (it may have gone to someone else).")


@extend_schema_field({"type": "string", "enum": list(DISPLAY_CHOICES)})
class ChoiceText(serializers.CharField):
    """A display choice, read as text (the schema lists the values)."""


@extend_schema_field({"type": "integer", "enum": Annotation.Strength.values, "nullable": True})
class StrengthNumber(serializers.IntegerField):
    """A strength, read as a number (the schema lists the values)."""


# The schema states the limits that `judgment_errors` enforces, from the same constants.
@extend_schema_field({"type": "string", "maxLength": RATIONALE_MAX_CHARS})
class RationaleText(serializers.CharField):
    """A rationale, read as sent."""


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": ACTIVE_SECONDS_MAX})
class ActiveSeconds(serializers.IntegerField):
    """The active time, read as sent."""


@extend_schema_field({"type": "integer", "minimum": 0})
class PastedChars(serializers.IntegerField):
    """The characters pasted into the rationale, read as sent (at most its length)."""


@safe_to_retry
class NextView(APIView):
    """POST: the expert's current item in the project, leasing the next one if needed."""

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "NextInput"  # the component's name in the OpenAPI schema

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LeasedItem"

        assignment_id = serializers.IntegerField(source="pk")
        item_id = serializers.CharField(source="item.external_id")
        messages = serializers.ListField(source="item.messages")
        responses = serializers.SerializerMethodField()
        expires_at = serializers.DateTimeField()
        qualification = serializers.BooleanField(
            source="item.is_qualification",
            help_text="Whether the item is part of the project's qualification.",
        )

        def get_responses(self, assignment: Assignment) -> list[dict[str, str]]:
            # Display order, as "A" and "B"; which model wrote which is never sent.
            texts = response_texts(assignment.item)
            return [
                {"side": side, "content": texts[position]}
                for side, position in zip("AB", assignment.display_order, strict=True)
            ]

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 204: None})
    def post(self, request: Request, code: str) -> Response:
        project = project_for(request.user, Perm.LABEL, code=code)
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        assignment = services.assignment_next(project=project, expert=request.user)
        if assignment is None:
            standing = expert_standing(project=project, expert=request.user, now=timezone.now())
            if not standing.standing.serves:  # paused, or failed the qualification: say so
                raise PermissionDenied(standing_notice(standing))
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.OutputSerializer(assignment).data)


@safe_to_retry
class SubmitView(APIView):
    """POST: the expert's judgment on their assigned item. Retries are answered, not repeated.

    A project that compares responses needs a `choice`; what else it asks for (a strength, a
    rationale) and allows (ties, "both are bad") is the project's, and is answered 400 by field.
    `pasted_chars` counts characters of the rationale, so it is at most the rationale's length
    (trimmed)."""

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "Judgment"

        # Read as sent: what the project allows is `judgment_errors`'s to say.
        choice = ChoiceText(required=False, allow_blank=True, default="")
        strength = StrengthNumber(required=False, allow_null=True, default=None)
        rationale = RationaleText(required=False, allow_blank=True, default="")
        active_seconds = ActiveSeconds(required=False, default=0)
        pasted_chars = PastedChars(
            required=False,
            default=0,
            help_text="How many characters of the rationale were pasted rather than typed.",
        )
        idempotency_key = UUIDStringField()

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            judgment = Judgment(
                choice=data["choice"],
                strength=data["strength"],
                rationale=data["rationale"],
                active_seconds=data["active_seconds"],
                pasted_chars=data["pasted_chars"],
            )
            errors = judgment_errors(
                judgment=judgment, project=self.context["project"], item=self.context["item"]
            )
            if errors:
                raise ValidationError({name: [message] for name, message in errors.items()})
            return {"judgment": judgment, "idempotency_key": data["idempotency_key"]}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Submission"

        created = serializers.BooleanField(help_text="False when this was a retry of a stored submission.")

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            409: error_response(
                "The lease on this item has ended, or the key was used for another submission."
            ),
        },
    )
    def post(self, request: Request, code: str, assignment_id: int) -> Response:
        project = project_for(request.user, Perm.LABEL, code=code)
        assignment = own_assignment(user=request.user, project=project, assignment_id=assignment_id)
        data = self.InputSerializer(data=request.data, context={"project": project, "item": assignment.item})
        data.is_valid(raise_exception=True)
        try:
            submission = services.annotation_submit(
                assignment=assignment,
                expert=request.user,
                judgment=data.validated_data["judgment"],
                idempotency_key=data.validated_data["idempotency_key"],
            )
        except DjangoValidationError as error:
            raise ValidationError(
                error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
            ) from error
        except (services.LeaseLost, services.KeyReused) as conflict:
            return Response({"detail": str(conflict)}, status=status.HTTP_409_CONFLICT)
        return Response(
            {"created": submission.created},
            status=status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK,
        )


@safe_to_retry
class HeartbeatView(APIView):
    """POST: the expert is still working on the item; extends the lease by the project's length."""

    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "HeartbeatInput"

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Lease"

        expires_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 409: LEASE_LOST})
    def post(self, request: Request, code: str, assignment_id: int) -> Response:
        project = project_for(request.user, Perm.LABEL, code=code)
        assignment = own_assignment(user=request.user, project=project, assignment_id=assignment_id)
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        try:
            assignment = services.assignment_extend(assignment=assignment, expert=request.user)
        except services.LeaseLost as lost:
            return Response({"detail": str(lost)}, status=status.HTTP_409_CONFLICT)
        except DjangoValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(self.OutputSerializer(assignment).data)


class ExpertCountSerializer(serializers.Serializer):
    annotator = serializers.CharField()
    labels = serializers.IntegerField()
    gold_answered = serializers.IntegerField()
    gold_correct = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)


class FlaggedItemSerializer(serializers.Serializer):
    item_id = serializers.CharField(source="external_id")
    skips = serializers.IntegerField()
    reasons = serializers.DictField(child=serializers.IntegerField())


class ProgressSerializer(serializers.Serializer):
    items = serializers.IntegerField()
    complete = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    not_started = serializers.IntegerField()
    percent_complete = serializers.IntegerField()
    annotations = serializers.IntegerField()
    skips = serializers.IntegerField()
    gold_items = serializers.IntegerField()
    per_expert = ExpertCountSerializer(many=True)
    flagged = FlaggedItemSerializer(many=True)


class ProjectDetailSerializer(ProjectSerializer):
    labels_per_item = serializers.IntegerField()
    allow_tie = serializers.BooleanField()
    allow_both_bad = serializers.BooleanField()
    strength_scale = serializers.CharField()
    rationale_required = serializers.BooleanField()
    randomize_sides = serializers.BooleanField()
    lease_minutes = serializers.IntegerField()
    gold_percent = serializers.IntegerField()
    shuffle_items = serializers.BooleanField()
    required_domain = serializers.CharField()
    created_at = serializers.DateTimeField()
    progress = serializers.SerializerMethodField()

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, project: Any) -> dict[str, Any]:
        return ProgressSerializer(self.context["progress"]).data


class ProjectDetailView(APIView):
    """GET: a project's settings and progress, for those who may export it."""

    @extend_schema(responses=ProjectDetailSerializer)
    def get(self, request: Request, slug: str) -> Response:
        project = project_for(request.user, Perm.EXPORT, slug=slug)
        # Client viewers see annotators only by pseudonym; the vendor's managers know their experts.
        identify = has_project_perm(request.user, project, Perm.MANAGE)
        progress = project_progress(project, identify_experts=identify)
        return Response(ProjectDetailSerializer(project, context={"progress": progress}).data)


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    """A Django form's errors as DRF names them."""
    return {
        "non_field_errors" if field == NON_FIELD_ERRORS else field: [error["message"] for error in errors]
        for field, errors in form.errors.get_json_data().items()
    }


class FormatNamesTheExport(DefaultContentNegotiation):
    """Here `?format=` names the export format, not a renderer: answer errors in JSON whatever it says."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class ExportView(APIView):
    """GET: the project's export in `format`, streamed as JSONL, with the export page's options as
    query parameters. Every download is audited.

    Token only: a browser sends its session cookie with a GET that another site starts (a link, an
    image), which would record a download its user never asked for. The web download is the
    project page's POST form, behind CSRF."""

    authentication_classes = [TokenAuthentication]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FormatNamesTheExport

    @extend_schema(
        parameters=query_parameters(ApiExportForm),
        responses={(200, "application/jsonl"): OpenApiTypes.STR},
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        project = project_for(request.user, Perm.EXPORT, slug=slug)
        form = ApiExportForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        fmt = form.cleaned_data["format"]
        try:
            return export_download(
                project=project, fmt=fmt, options=form.cleaned_data["options"], request=request, via="api"
            )
        except ValueError as refused:
            raise ValidationError({"non_field_errors": [str(refused)]}) from refused
