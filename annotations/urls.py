from django.urls import path

from annotations import views

app_name = "annotations"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:slug>/", views.project_overview, name="project"),
    path("p/<slug:slug>/export/", views.export, name="export"),
    path("p/<slug:slug>/guidelines/", views.guidelines, name="guidelines"),
    path("p/<slug:slug>/label/", views.label, name="label"),
    path("p/<slug:slug>/label/<int:assignment_id>/submit/", views.submit, name="submit"),
    path("p/<slug:slug>/label/<int:assignment_id>/skip/", views.skip, name="skip"),
]
