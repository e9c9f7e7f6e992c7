"""Dependencies point one way: the core (labelhub) <- projects <- annotations <- quality and the
apps above.

Nothing lower imports a higher app, at run time or in its migrations."""

import ast
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parents[1]
# Each app and the first-party apps it may import.
BELOW = {
    "labelhub": set(),
    "projects": {"labelhub"},
    "annotations": {"labelhub", "projects"},
    "quality": {"labelhub", "projects", "annotations"},
    "costs": {"labelhub", "projects", "annotations"},
}
FIRST_PARTY = {"labelhub", "projects", "annotations", "quality", "costs"}


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & FIRST_PARTY


@pytest.mark.parametrize("app", sorted(BELOW))
def test_an_app_imports_only_the_apps_below_it(app):
    allowed = BELOW[app] | {app}
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_apps(path) - allowed)
        for path in (ROOT / app).rglob("*.py")
        # The root URLconf and the settings see every app, by design.
        if path.relative_to(ROOT).as_posix() not in {"labelhub/urls.py", "labelhub/settings.py"}
        and imported_apps(path) - allowed
    }
    assert offending == {}


@pytest.mark.parametrize("app", sorted(BELOW))
def test_an_apps_migrations_depend_only_on_the_apps_below_it(app):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    allowed = BELOW[app] | {app}
    offending = {
        name: sorted({dep_app for dep_app, _ in migration.dependencies} & FIRST_PARTY - allowed)
        for (label, name), migration in loader.disk_migrations.items()
        if label == app and {dep_app for dep_app, _ in migration.dependencies} & FIRST_PARTY - allowed
    }
    assert offending == {}
