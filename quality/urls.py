from django.urls import path

from quality import api, views

app_name = "quality"

urlpatterns = [
    path("p/<slug:code>/quality/", views.project_page, name="project"),
    path(
        "p/<slug:code>/quality/experts/<pk:user_id>/reinstate/",
        views.reinstate,
        name="expert-reinstate",
    ),
    path(
        "p/<slug:code>/quality/experts/<pk:user_id>/retake/",
        views.retake,
        name="expert-retake",
    ),
    path("p/<slug:code>/quality/charts/<slug:chart>.svg", views.chart, {"fmt": "svg"}, name="chart-svg"),
    path("p/<slug:code>/quality/charts/<slug:chart>.csv", views.chart, {"fmt": "csv"}, name="chart-csv"),
    path("api/v1/projects/<slug:slug>/quality", api.QualityView.as_view(), name="api-quality"),
]
