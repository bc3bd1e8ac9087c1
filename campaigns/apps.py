from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CampaignsConfig(AppConfig):
    name = "campaigns"

    def ready(self):
        from campaigns.schedules import ensure_schedule

        post_migrate.connect(ensure_schedule, sender=self, dispatch_uid="campaigns.ensure_schedule")
