"""The labelling API: what the labelling page does, for experts' own tools.

Views only parse input, call the service and serialise output. Input serializers are strict: a
field they do not declare is refused with 400 and named, so nobody can slip `project`,
`annotator`, `role` or `preference` into a write (mass assignment).
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations import services
from annotations.models import Annotation, Assignment
from projects.permissions import Perm, project_for


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise ValidationError({name: ["This field is not accepted here."] for name in unknown})
        return super().to_internal_value(data)


class NextView(APIView):
    """POST: the expert's current item in the project, leasing the next one if needed."""

    class InputSerializer(StrictSerializer):
        pass

    class OutputSerializer(serializers.Serializer):
        assignment_id = serializers.IntegerField(source="pk")
        item_id = serializers.CharField(source="item.external_id")
        messages = serializers.ListField(source="item.messages")
        responses = serializers.SerializerMethodField()
        expires_at = serializers.DateTimeField()

        def get_responses(self, assignment: Assignment) -> list[dict[str, str]]:
            # Display order, as "A" and "B"; which model wrote which is never sent.
            texts = {r.position: r.content for r in assignment.item.responses.all()}
            return [
                {"side": side, "content": texts[position]}
                for side, position in zip("AB", assignment.display_order, strict=True)
            ]

    def post(self, request: Request, code: str) -> Response:
        project = project_for(request.user, Perm.LABEL, code=code)
        self.InputSerializer(data=request.data).is_valid(raise_exception=True)
        assignment = services.assignment_next(project=project, expert=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.OutputSerializer(assignment).data)


class SubmitView(APIView):
    """POST: the expert's judgment on their assigned item. Retries are answered, not repeated."""

    class InputSerializer(StrictSerializer):
        choice = serializers.ChoiceField(choices=services.DISPLAY_CHOICES)
        strength = serializers.ChoiceField(
            choices=Annotation.Strength.values, required=False, allow_null=True
        )
        rationale = serializers.CharField(required=False, allow_blank=True, max_length=20_000, default="")
        active_seconds = serializers.IntegerField(required=False, min_value=0, max_value=86_400, default=0)
        idempotency_key = serializers.UUIDField()

    def post(self, request: Request, code: str, assignment_id: int) -> Response:
        project = project_for(request.user, Perm.LABEL, code=code)
        assignment = get_object_or_404(Assignment, pk=assignment_id, project=project, expert=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        judgment = services.Judgment(
            choice=data.validated_data["choice"],
            strength=data.validated_data.get("strength"),
            rationale=data.validated_data["rationale"],
            active_seconds=data.validated_data["active_seconds"],
        )
        try:
            submission = services.annotation_submit(
                assignment=assignment,
                expert=request.user,
                judgment=judgment,
                idempotency_key=data.validated_data["idempotency_key"],
            )
        except DjangoValidationError as error:
            raise ValidationError(
                error.message_dict if hasattr(error, "error_dict") else error.messages
            ) from error
        except services.LeaseLost as lost:
            return Response({"detail": str(lost)}, status=status.HTTP_409_CONFLICT)
        return Response(
            {"created": submission.created},
            status=status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK,
        )
