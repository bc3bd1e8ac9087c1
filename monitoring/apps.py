from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Health checks for uptime monitors; reads every app, owns no tables."""

    name = "monitoring"
