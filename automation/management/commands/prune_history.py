from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from automation.retention import prune_history
from messaging.retention import MIN_RETENTION_DAYS


class Command(BaseCommand):
    help = (
        "Delete finished messages (with their history) and spent automation-log rows older than the "
        "retention: MESSAGING_RETENTION_DAYS, or --older-than-days. Queued and sending messages, and "
        "log rows of occurrences that could still fire, are always kept. Safe to run concurrently."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help=f"Retention in days (at least {MIN_RETENTION_DAYS}); default MESSAGING_RETENTION_DAYS "
            f"({settings.MESSAGING_RETENTION_DAYS}; 0 keeps everything).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")

    def handle(self, *args, older_than_days=None, dry_run=False, **options):
        try:
            result = prune_history(days=older_than_days, dry_run=dry_run)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if result["cutoff"] is None:
            self.stdout.write("MESSAGING_RETENTION_DAYS=0: history is kept, nothing pruned.")
            return
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"Older than {result['cutoff']:%Y-%m-%d %H:%M} UTC: {verb} {result['messages']} message(s), "
            f"{result['message_events']} message event(s), {result['automation_logs']} automation log row(s)."
        )
