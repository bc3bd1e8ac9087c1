from django.apps import AppConfig


class FitcrmConfig(AppConfig):
    """The configuration package as an app, so its system checks are registered."""

    name = "fitcrm"
    verbose_name = "FitCRM configuration"

    def ready(self):
        from fitcrm import checks  # noqa: F401  (registering is importing)
