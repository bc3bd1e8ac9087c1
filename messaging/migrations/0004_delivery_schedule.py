"""Once created the delivery schedule; schedules are now made after ``migrate`` by
``messaging.apps`` (``common.schedules.ensure_schedule``), like every other app's.

Kept as an empty step so the migration graph does not change.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_delivery_bookkeeping"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = []
