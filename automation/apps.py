from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AutomationConfig(AppConfig):
    name = "automation"

    def ready(self):
        from automation import schedules, signals

        signals.connect()
        post_migrate.connect(
            schedules.ensure_schedule, sender=self, dispatch_uid="automation.ensure_schedule"
        )
