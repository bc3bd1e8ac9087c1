from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self):
        from django.db.models.signals import post_migrate

        from clients.roles import sync_role_permissions

        post_migrate.connect(sync_role_permissions, dispatch_uid="clients.sync_role_permissions")
