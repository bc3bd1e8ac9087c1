from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from messaging import schedules, waitlist, webhooks  # noqa: F401  (webhooks connects the anymail receiver)

        waitlist.connect()

        post_migrate.connect(schedules.ensure_schedule, sender=self, dispatch_uid="messaging.ensure_schedule")
