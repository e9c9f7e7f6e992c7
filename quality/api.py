"""The quality figures of a project, for those who may export it."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.permissions import Perm, has_project_perm, project_for
from quality.report import STATUS, project_quality

FIGURE = {"allow_null": True, "min_value": -1.0, "max_value": 1.0}
EXPERT_STATUSES = sorted(STATUS.values())


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


class AttemptSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    correct = serializers.IntegerField(min_value=0)
    answered = serializers.IntegerField(min_value=1)
    percent = serializers.FloatField(min_value=0.0, max_value=100.0, help_text="Correct answers, 0-100.")
    pass_percent = serializers.IntegerField(
        min_value=0, max_value=100, help_text="The pass mark when the attempt was graded."
    )
    finished_at = serializers.DateTimeField()


class CurrentAttemptSerializer(serializers.Serializer):
    answered = serializers.IntegerField(min_value=0, help_text="Answers so far (0: not started).")


class QualificationSerializer(serializers.Serializer):
    attempts = serializers.IntegerField(min_value=0, help_text="Completed (graded) attempts.")
    latest = AttemptSerializer(allow_null=True, help_text="The latest graded attempt; null before one.")
    current = CurrentAttemptSerializer(
        allow_null=True, help_text="The attempt under way while the expert qualifies; else null."
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
    status = serializers.ChoiceField(
        choices=EXPERT_STATUSES,
        help_text="active: at work; qualifying: taking the qualification; paused: gold accuracy "
        "below the bar; failed: did not pass the qualification (no retake open). A manager may "
        "reinstate a paused or failed expert.",
    )
    qualification = QualificationSerializer(
        allow_null=True, help_text="Null when the project asks for no qualification (and for staff)."
    )
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
        report = project_quality(project, identify_experts=identify)
        return Response(QualitySerializer(report.as_dict()).data)
