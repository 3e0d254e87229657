"""The cache table (settings.CACHES: DatabaseCache "ccm_cache"), so that every `migrate` (CI,
docker-compose, the embedded development database, the test database) has it. Keeping the cache
in PostgreSQL takes Redis out of sign-in and of every page."""

from django.core.management import call_command
from django.db import migrations

TABLE = "ccm_cache"


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("ccm", "0005_pending_jobs_outbox")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
