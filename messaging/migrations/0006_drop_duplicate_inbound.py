from django.db import migrations
from django.db.models import Count, Min


def drop_duplicate_inbound(apps, schema_editor):
    """Copies a retried webhook stored before the constraint existed: keep the first."""
    Message = apps.get_model("messaging", "Message")
    inbound = Message.objects.filter(direction="in").exclude(provider_id="")
    duplicated = (
        inbound.values("channel", "provider_id").annotate(n=Count("id"), first=Min("id")).filter(n__gt=1)
    )
    for row in duplicated:
        inbound.filter(channel=row["channel"], provider_id=row["provider_id"]).exclude(
            pk=row["first"]
        ).delete()


class Migration(migrations.Migration):
    # The constraint comes in the next migration: PostgreSQL will not build an index
    # on a table with deletes still pending their foreign-key checks in this transaction.

    dependencies = [
        ("messaging", "0005_drop_attempt_started_at"),
    ]

    operations = [
        migrations.RunPython(drop_duplicate_inbound, migrations.RunPython.noop),
    ]
