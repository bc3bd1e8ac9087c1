"""The periodic delivery run: the safety net for a lost kick, retries and deferrals."""

from django.db import migrations

NAME = "messaging: deliver due messages"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    # By name, so running migrations again (or a studio that edited the interval) keeps one row.
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "messaging.tasks.deliver_pending",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_delivery_bookkeeping"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
