"""The cost and margin pages: a project's, for its managers and staff; each expert's own work."""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from costs.chart import margin_chart
from costs.queries import CURRENCY, MARGIN_TARGET_PERCENT, expert_work, project_costs
from labelhub.resilience import safe_to_retry
from labelhub.throttling import throttled
from projects.permissions import Perm, project_for

# The CSV's columns, one row per (day, expert); money in USD, rounded to cents; empty: unknown.
CSV_COLUMNS = [
    "day",
    "expert",
    "annotator",
    "hourly_rate",
    "active_hours",
    "qualification_hours",
    "answers",
    "qualification_answers",
    "labels",
    "delivered_labels",
    "undelivered_labels",
    "cost",
    "revenue",
    "gross_margin",
    "margin_percent",
    "cost_per_delivered_label",
]
# A spreadsheet runs a cell that starts so as a formula: such a value is written as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@safe_to_retry
@require_GET
@login_required
@throttled()  # under the same per-user rate as the quality page
def project_page(request: HttpRequest, code: str) -> HttpResponse:
    # Managers and staff only: client viewers may export, yet what the vendor pays is not theirs.
    project = project_for(request.user, Perm.MANAGE, code=code)
    costs = project_costs(project)
    context = {
        "project": project,
        "costs": costs,
        "chart": margin_chart(costs.per_day),
        "target": MARGIN_TARGET_PERCENT,
        "currency": CURRENCY,
    }
    return render(request, "costs/project.html", context)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@safe_to_retry
@require_GET
@login_required
@throttled()
def project_csv(request: HttpRequest, code: str) -> HttpResponse:
    project = project_for(request.user, Perm.MANAGE, code=code)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.code}-costs.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in project_costs(project).rows:
        figures = row.figures.as_dict()
        values = {"day": row.day.isoformat(), "expert": row.username, "annotator": row.annotator}
        values |= {"hourly_rate": row.rate, **figures}
        writer.writerow([_cell(values[column]) for column in CSV_COLUMNS])
    return response


@safe_to_retry
@require_GET
@login_required
@throttled()
def my_work(request: HttpRequest) -> HttpResponse:
    """The logged-in expert's own hours, labels and estimated earnings, by project codename."""
    return render(request, "costs/my_work.html", {"work": expert_work(request.user), "currency": CURRENCY})
