from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0006_drop_duplicate_inbound"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=models.Q(("direction", "in"), models.Q(("provider_id", ""), _negated=True)),
                fields=("channel", "provider_id"),
                name="message_inbound_once",
            ),
        ),
    ]
