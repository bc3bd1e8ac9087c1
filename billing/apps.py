from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import receivers, schedules

        receivers.connect()
        post_migrate.connect(schedules.ensure_schedule, sender=self, dispatch_uid="billing.ensure_schedule")
