from django.urls import path

from quality import api, views

app_name = "quality"

urlpatterns = [
    path("p/<slug:code>/quality/", views.project_page, name="project"),
    path("api/v1/projects/<slug:slug>/quality", api.QualityView.as_view(), name="api-quality"),
]
