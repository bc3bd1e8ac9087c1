from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from automation.demo import ensure_demo_rules
from automation.demo_studio import seed_demo


class Command(BaseCommand):
    """Lives in automation, the app that may import all the others: the demo
    studio is clients, sessions and payments plus example automation rules."""

    help = "Create a believable demo studio (idempotent: safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to seed demo data with DEBUG off (use --force on a demo server).")
        report = seed_demo()
        # After the sessions, so booking the demo does not send a confirmation per session.
        rules = ensure_demo_rules()
        created = ", ".join(f"{n} {what}" for what, n in report.created.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo studio ready ({created} created; {rules} automation rules).")
        )
        self.stdout.write("Logins (http://127.0.0.1:8000/admin/):")
        for username, password, role in report.logins:
            self.stdout.write(f"  {username:<8} {password:<14} {role}")
