from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self):
        from clients.roles import sync_role_permissions

        # post_migrate is sent app by app in INSTALLED_APPS order, and each app's
        # permissions are created in its own turn: the last app's turn is the
        # first moment every permission a role names exists.
        last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
        post_migrate.connect(sync_role_permissions, sender=last, dispatch_uid="clients.sync_role_permissions")
