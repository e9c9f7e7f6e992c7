"""What a management command pays for at start-up, and that the admin still sees everything."""

import os
import subprocess
import sys
from pathlib import Path

from django.contrib import admin
from django.core import checks
from django.core.management import load_command_class

from projects.apps import check_discovered_admin
from projects.models import Item

ROOT = Path(__file__).resolve().parents[2]


def test_starting_django_imports_no_admin_module():
    # Commands such as export_dataset and import_items serve no page: they should not pay for
    # importing every ModelAdmin (and the markdown renderer, progress queries... they import).
    probe = (
        "import sys, django; django.setup(); "
        "print(sorted(m for m in sys.modules if m.endswith('.admin') and m != 'django.contrib.admin' "
        "or m == 'labelhub.markdown'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_urlconf_registers_every_modeladmin():
    import labelhub.urls  # noqa: F401  (what serving a first page does)

    assert Item in admin.site._registry
    assert {"projects", "annotations", "labelhub", "auth"} <= {
        m._meta.app_label for m in admin.site._registry
    }


def test_the_admin_checks_still_check_every_modeladmin():
    assert check_discovered_admin in checks.registry.registry.get_checks()

    class Broken(admin.ModelAdmin):
        list_display = ["no_such_field"]

    from projects.models import Client

    site = admin.site
    original = site._registry.pop(Client, None)
    site.register(Client, Broken)
    try:
        found = check_discovered_admin()
    finally:
        site.unregister(Client)
        if original is not None:
            site._registry[Client] = original
    assert [error.id for error in found if error.obj is Broken] == ["admin.E108"]


def test_the_data_commands_skip_the_system_checks():
    for app, name in (("annotations", "export_dataset"), ("projects", "import_items")):
        assert load_command_class(app, name).requires_system_checks == []
