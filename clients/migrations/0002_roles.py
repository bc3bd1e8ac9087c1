from django.db import migrations

ROLES = ("Trainer", "Studio manager")


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    """The two staff roles. Their permissions are synced after every migrate
    (clients.roles.sync_role_permissions), as later apps add models."""

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clients", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
