from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from billing.models import Receipt
        from messaging import receipts, schedules, waitlist, webhooks  # noqa: F401  (webhooks connects the anymail receiver)

        waitlist.connect()

        post_save.connect(
            receipts.receipt_recorded, sender=Receipt, dispatch_uid="messaging.receipt_recorded"
        )
        post_migrate.connect(schedules.ensure_schedule, sender=self, dispatch_uid="messaging.ensure_schedule")
