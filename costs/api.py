"""A project's cost and margin, for its managers and staff."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from costs.queries import CURRENCY, MARGIN_TARGET_PERCENT, Figures, ProjectCosts, cents, project_costs
from projects.permissions import Perm, project_for

MONEY = {"max_digits": 18, "decimal_places": 2}
UNKNOWN = "Null when unknown: an expert with no hourly rate, or a project with no price per label."


class FiguresSerializer(serializers.Serializer):
    active_hours = serializers.DecimalField(
        min_value=0, help_text="Every answer's, qualification answers included.", **MONEY
    )
    qualification_hours = serializers.DecimalField(min_value=0, **MONEY)
    answers = serializers.IntegerField(min_value=0)
    qualification_answers = serializers.IntegerField(min_value=0, help_text="They cost, and earn nothing.")
    labels = serializers.IntegerField(min_value=0)
    delivered_labels = serializers.IntegerField(
        min_value=0, help_text="Labels the client pays for: those the export keeps by default."
    )
    undelivered_labels = serializers.IntegerField(
        min_value=0,
        help_text="Labels that cost and earn nothing: those of experts the quality controls paused.",
    )
    unpriced_hours = serializers.DecimalField(
        min_value=0, help_text="Hours by experts with no hourly rate.", **MONEY
    )
    cost = serializers.DecimalField(allow_null=True, help_text=f"USD. {UNKNOWN}", **MONEY)
    revenue = serializers.DecimalField(allow_null=True, help_text=f"USD. {UNKNOWN}", **MONEY)
    gross_margin = serializers.DecimalField(allow_null=True, help_text=f"USD. {UNKNOWN}", **MONEY)
    margin_percent = serializers.DecimalField(
        allow_null=True, max_digits=20, decimal_places=1, help_text="Of revenue; null without revenue."
    )
    cost_per_delivered_label = serializers.DecimalField(allow_null=True, **MONEY)


class ExpertCostsSerializer(FiguresSerializer):
    username = serializers.CharField()
    annotator = serializers.CharField(help_text="The expert's pseudonym in this project.")
    hourly_rate = serializers.DecimalField(allow_null=True, help_text="USD; null: not agreed yet.", **MONEY)


class DayCostsSerializer(FiguresSerializer):
    day = serializers.DateField(help_text="In the site's time zone.")


class CostsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    price_per_label = serializers.DecimalField(allow_null=True, **MONEY)
    margin_target_percent = serializers.DecimalField(max_digits=5, decimal_places=1)
    totals = FiguresSerializer()
    experts = ExpertCostsSerializer(many=True)
    days = DayCostsSerializer(many=True)


def costs_dict(costs: ProjectCosts) -> dict:
    def figures(value: Figures, **extra: object) -> dict:
        return {**extra, **value.as_dict()}

    return {
        "currency": CURRENCY,
        "price_per_label": cents(costs.project.price_per_label),
        "margin_target_percent": MARGIN_TARGET_PERCENT,
        "totals": figures(costs.total),
        "experts": [
            figures(group.figures, username=group.username, annotator=group.annotator, hourly_rate=group.rate)
            for group in costs.per_expert
        ],
        "days": [figures(group.figures, day=group.key) for group in costs.per_day],
    }


class CostsView(APIView):
    """GET: the project's cost (active hours x each expert's hourly rate), revenue (delivered
    labels x the price per label) and gross margin, in total, per expert and per day. Rework hours
    and returned labels are not here: they come with the review of labels."""

    @extend_schema(responses=CostsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        # Managers and staff only: a client viewer may see the project, not what its labels cost.
        project = project_for(request.user, Perm.MANAGE, slug=slug)
        return Response(CostsSerializer(costs_dict(project_costs(project))).data)
