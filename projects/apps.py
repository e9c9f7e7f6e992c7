from typing import Any

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.contrib.admin import autodiscover
from django.contrib.admin.checks import check_admin_app, check_dependencies
from django.core import checks


class ProjectsConfig(AppConfig):
    name = "projects"
    default = True


class LabelHubAdminConfig(admin_apps.SimpleAdminConfig):
    """The admin, with the firewall-scoped site as `admin.site`.

    Its ModelAdmins are registered when the URLconf is loaded (`labelhub/urls.py` calls
    `autodiscover`), not at start-up: commands that serve no page, such as import_items and
    export_dataset, then start without importing every admin module and all they import.
    """

    default = False
    default_site = "projects.admin_site.LabelHubAdminSite"

    def ready(self) -> None:
        checks.register(check_dependencies, checks.Tags.admin)
        checks.register(check_discovered_admin, checks.Tags.admin)


def check_discovered_admin(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The admin's own checks of every ModelAdmin, run on all of them whatever ran before."""
    autodiscover()
    return check_admin_app(app_configs, **kwargs)
