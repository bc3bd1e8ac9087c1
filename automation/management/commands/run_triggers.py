from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from automation.retention import pruned_before
from automation.scan import scan
from common.clock import studio_tz


def parse_now(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(
            f"--now must be an ISO date-time such as 2026-12-01T09:00Z, not {value!r}"
        ) from exc
    if not 1970 <= moment.year <= 2999:
        # The scan looks back and ahead by days: dates near the calendar's ends overflow.
        raise CommandError(f"--now must be between the years 1970 and 2999, not {value!r}")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=studio_tz())
    pruned = pruned_before()
    if pruned and moment < pruned + timedelta(hours=settings.AUTOMATION_MAX_CATCHUP_HOURS):
        # prune_history deleted the once-only rows of spent occurrences before this point;
        # replaying such a window would find them again and send them a second time.
        raise CommandError(
            f"--now must be after {pruned:%Y-%m-%d %H:%M} UTC plus the catch-up window: automation "
            "history before then has been pruned, and replaying it could send messages again."
        )
    return moment


class Command(BaseCommand):
    help = (
        "Run the time-based automation scan once (reminders, payment notices, birthdays) and print "
        "what each rule did. Safe to run from cron every few minutes, and concurrently. "
        "Exit status: 0 done, 1 the scan could not run, 2 it ran but some event types failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Scan as if it were this moment (ISO; studio time if no zone). A moment ahead of "
            "the clock is not remembered as scanned, so the regular scans' catch-up is unaffected.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be sent; change nothing."
        )

    def handle(self, *args, now=None, dry_run=False, **options):
        try:
            result = scan(now=parse_now(now) if now else None, dry_run=dry_run)
        except DatabaseError as exc:
            raise CommandError(f"The scan could not run: {exc}", returncode=1) from exc
        for line in result.summary():
            self.stdout.write(line)
        if not result.ok:
            raise CommandError(f"{len(result.errors)} event type(s) failed; see above.", returncode=2)
