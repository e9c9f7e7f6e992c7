from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProjectsConfig(AppConfig):
    name = "projects"
    default = True


class LabelHubAdminConfig(admin_apps.AdminConfig):
    """The admin, with the firewall-scoped site as `admin.site`."""

    default = False
    default_site = "projects.admin_site.LabelHubAdminSite"
