from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self):
        from messaging import webhooks  # noqa: F401  (connects the anymail tracking receiver)
