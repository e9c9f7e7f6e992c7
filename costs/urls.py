from django.urls import path

from costs import api, views

app_name = "costs"

urlpatterns = [
    path("p/<slug:code>/costs/", views.project_page, name="project"),
    path("p/<slug:code>/costs.csv", views.project_csv, name="csv"),
    path("me/work/", views.my_work, name="my-work"),
    path("api/v1/projects/<slug:slug>/costs", api.CostsView.as_view(), name="api-costs"),
]
