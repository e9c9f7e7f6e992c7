"""A database made before the core stopped depending on `projects` has a foreign key from the
audit trail to Project; the schema now keeps only the project's id (see AuditEvent.project_id).
Drop that constraint where it exists; a database made since has none, and nothing happens."""

from django.db import migrations


def drop_project_foreign_key(apps, schema_editor) -> None:
    model = apps.get_model("labelhub", "AuditEvent")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    names = [
        name
        for name, constraint in constraints.items()
        if constraint["foreign_key"] and constraint["columns"] == ["project_id"]
    ]
    if not names:
        return
    if connection.vendor == "sqlite":
        # SQLite cannot drop a constraint: the table is rebuilt as the model now describes it.
        schema_editor._remake_table(model)
    else:
        for name in names:
            schema_editor.execute(schema_editor._delete_fk_sql(model, name))


class Migration(migrations.Migration):
    dependencies = [("labelhub", "0001_squashed_0005_core")]

    operations = [migrations.RunPython(drop_project_foreign_key, migrations.RunPython.noop)]
