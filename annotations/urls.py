from django.urls import path

from annotations import api, views

app_name = "annotations"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:code>/", views.project_overview, name="project"),
    path("p/<slug:code>/charts/<slug:chart>.svg", views.chart, {"fmt": "svg"}, name="chart-svg"),
    path("p/<slug:code>/charts/<slug:chart>.csv", views.chart, {"fmt": "csv"}, name="chart-csv"),
    path("p/<slug:code>/export/", views.export, name="export"),
    path("p/<slug:code>/guidelines/", views.guidelines, name="guidelines"),
    path("p/<slug:code>/label/", views.label, name="label"),
    path("p/<slug:code>/label/<pk:assignment_id>/submit/", views.submit, name="submit"),
    path("p/<slug:code>/label/<pk:assignment_id>/skip/", views.skip, name="skip"),
    path("p/<slug:code>/label/<pk:assignment_id>/heartbeat/", views.heartbeat, name="heartbeat"),
    path("p/<slug:code>/label/<pk:assignment_id>/draft/", views.draft, name="draft"),
    path("api/v1/label/<slug:code>/next", api.NextView.as_view(), name="api-next"),
    path("api/v1/projects/<slug:slug>/", api.ProjectDetailView.as_view(), name="api-project"),
    path("api/v1/projects/<slug:slug>/export", api.ExportView.as_view(), name="api-export"),
    path(
        "api/v1/label/<slug:code>/assignments/<pk:assignment_id>",
        api.SubmitView.as_view(),
        name="api-submit",
    ),
    path(
        "api/v1/label/<slug:code>/assignments/<pk:assignment_id>/heartbeat",
        api.HeartbeatView.as_view(),
        name="api-heartbeat",
    ),
]
