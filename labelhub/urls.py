from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from labelhub import views

# Every app's admin module registers its ModelAdmins here rather than at start-up (see
# projects.apps.LabelHubAdminConfig), before `admin.site.urls` lists them.
admin.autodiscover()

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/create", views.token_create, name="token-create"),
    path("account/tokens/revoke", views.token_revoke, name="token-revoke"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a separate script, which our CSP
    # (no inline scripts) allows; the single-page view would inline it. Our template moves its
    # inline styles to a static file for the same reason.
    path(
        "api/schema/ui/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="labelhub/api_docs.html"),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("", include("projects.urls")),
    path("", include("annotations.urls")),
    path("", include("quality.urls")),
    path("", include("costs.urls")),
]
