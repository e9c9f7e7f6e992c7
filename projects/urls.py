from django.urls import path

from projects import api

app_name = "projects"

urlpatterns = [
    path("api/v1/projects/", api.ProjectListView.as_view(), name="api-list"),
    path("api/v1/projects/<slug:slug>/items", api.ItemsView.as_view(), name="api-items"),
]
