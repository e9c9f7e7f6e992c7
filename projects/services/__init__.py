"""The projects app's writes, one service each, named for what they do:

- `memberships`: roles granted and revoked, refused across competing clients (conflicts of interest);
- `projects`: a project opened, and paused, resumed or archived;
- `guidelines`: a new version of the guidelines, and each showing of them to a reader;
- `items`: an import of items, planned against the stored ones, then stored all or nothing.

Callers use the names below (`from projects.services import membership_grant`). What the
services ask and reading code asks too (conflicting memberships, the clients a manager may open
projects for, which items carry judgments) is read-only and lives in `projects.queries`.
"""

from projects.services.guidelines import guideline_publish, guideline_view_record
from projects.services.items import (
    ImportRejected,
    ImportReport,
    items_import,
    items_import_stream,
    items_plan,
    items_set_qualification,
)
from projects.services.memberships import (
    PERSON_REFUSED,
    GrantRefused,
    membership_grant,
    membership_revoke,
)
from projects.services.projects import project_create, project_key, project_set_status

__all__ = [
    "PERSON_REFUSED",
    "GrantRefused",
    "ImportRejected",
    "ImportReport",
    "guideline_publish",
    "guideline_view_record",
    "items_import",
    "items_import_stream",
    "items_plan",
    "items_set_qualification",
    "membership_grant",
    "membership_revoke",
    "project_create",
    "project_key",
    "project_set_status",
]
