"""The quality figures of a project, for those who may export it."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.permissions import Perm, has_project_perm, project_for
from quality.report import project_quality

FIGURE = {"allow_null": True, "min_value": -1.0, "max_value": 1.0}


class AgreementSerializer(serializers.Serializer):
    percent = serializers.FloatField(allow_null=True, min_value=0.0, max_value=1.0)
    fleiss_kappa = serializers.FloatField(**FIGURE)
    krippendorff_alpha_nominal = serializers.FloatField(**FIGURE)
    krippendorff_alpha_ordinal_strength = serializers.FloatField(**FIGURE)
    krippendorff_alpha_interval = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        required=False,
        help_text="Rubric projects: Krippendorff's alpha (interval) of each criterion, by key.",
    )


class ExpertQualitySerializer(serializers.Serializer):
    annotator = serializers.CharField(help_text="The expert's pseudonym in this project.")
    username = serializers.CharField(required=False, help_text="Only for the project's managers.")
    labels = serializers.IntegerField(min_value=0)
    gold_answered = serializers.IntegerField(min_value=0)
    gold_accuracy = serializers.FloatField(allow_null=True, min_value=0.0, max_value=1.0)
    gold_interval = serializers.ListField(
        child=serializers.FloatField(min_value=0.0, max_value=1.0),
        allow_null=True,
        min_length=2,
        max_length=2,
        help_text="The 95% Wilson interval of the gold accuracy: [low, high].",
    )
    status = serializers.CharField()
    agreement_with_consensus = serializers.FloatField(allow_null=True, min_value=0.0, max_value=1.0)
    left_share = serializers.FloatField(allow_null=True, min_value=0.0, max_value=1.0)
    left_p_value = serializers.FloatField(allow_null=True, min_value=0.0, max_value=1.0)
    median_seconds_per_1k_chars = serializers.FloatField(allow_null=True, min_value=0.0)
    too_fast_share = serializers.FloatField(
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="Of the timed judgments, those under the project's minimum seconds per 1,000 characters "
        "(null when the project sets none).",
    )
    longer_share = serializers.FloatField(
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="Of the choices between responses of different lengths, those of the longer one.",
    )
    paste_share = serializers.FloatField(
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="Of the characters of the expert's rationales, those pasted rather than typed.",
    )
    repeated_share = serializers.FloatField(
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="Of the expert's rationales, those they also gave on another item.",
    )
    short_share = serializers.FloatField(
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="Of the expert's rationales, those under a quarter of the project's median length.",
    )


class QualitySerializer(serializers.Serializer):
    agreement = AgreementSerializer()
    experts = ExpertQualitySerializer(many=True)


class QualityView(APIView):
    """GET: the project's agreement figures and one row per expert. A figure with too little data
    behind it is null."""

    @extend_schema(responses=QualitySerializer)
    def get(self, request: Request, slug: str) -> Response:
        project = project_for(request.user, Perm.EXPORT, slug=slug)
        # Client viewers see annotators only by pseudonym; the vendor's managers know their experts.
        identify = has_project_perm(request.user, project, Perm.MANAGE)
        return Response(project_quality(project, identify_experts=identify).as_dict())
