"""The audit trail is append-only in the database itself, not only in the admin.

PostgreSQL refuses any UPDATE or DELETE of an audit row, whoever asks. (Only row-level changes
are refused; TRUNCATE, which only an operator or a test teardown issues, is not row-level.)
SQLite, the try-it-out database, gets no trigger.
"""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION labelhub_auditevent_forbid_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER labelhub_auditevent_append_only
    BEFORE UPDATE OR DELETE ON labelhub_auditevent
    FOR EACH ROW EXECUTE FUNCTION labelhub_auditevent_forbid_change();
"""
ALLOW = """
DROP TRIGGER IF EXISTS labelhub_auditevent_append_only ON labelhub_auditevent;
DROP FUNCTION IF EXISTS labelhub_auditevent_forbid_change();
"""


def forbid(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID, params=None)


def allow(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW, params=None)


class Migration(migrations.Migration):
    dependencies = [("labelhub", "0002_auditevent")]

    operations = [migrations.RunPython(forbid, allow)]
