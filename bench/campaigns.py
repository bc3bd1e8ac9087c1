"""Planning and draining a large campaign, on PostgreSQL.

    DATABASE_URL=postgres://... python -m bench campaigns [--recipients 50000] [--deliver 10000]

1. **Planning**: a segment (one trainer's active clients who consent to marketing
   email and have not trained in 30 days) matching ``--recipients`` clients, plus a
   few thousand who are excluded for a reason, is planned with the real service:
   claim, live segment query, consent check, per-recipient rendering, bulk insert.
   Target: <= 10 s. The number of queries is reported too.
2. **Delivery at the throttle**: the real engine (``deliver_due``, locmem email)
   drains the first ``--deliver`` messages at ``MARKETING_EMAILS_PER_MINUTE``. The
   throttle is a per-minute budget, so at 600/min 10,000 messages take 17 real
   minutes; the clock is simulated instead (time_machine), advanced a second at a
   time whenever the engine has nothing it may send. Reported: the effective rate
   in simulated time against the setting, the busiest minute, the wall-clock time the
   engine actually worked, and how long transactional reminders queued mid-drain
   waited behind the campaign (they should not wait at all).
"""

import argparse
import os
import time
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

BENCH_TRAINER = "bench-campaigns"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def _database_url():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench campaigns needs PostgreSQL: set DATABASE_URL=postgres://...")
    return url


def _cleanup():
    from django_q.models import OrmQ

    from campaigns.models import Campaign, Segment
    from clients.models import Client
    from messaging.models import Message

    Message.objects.filter(client__trainer__username=BENCH_TRAINER).delete()
    Campaign.objects.filter(segment__trainer__username=BENCH_TRAINER).delete()
    Segment.objects.filter(trainer__username=BENCH_TRAINER).delete()
    Client.objects.filter(trainer__username=BENCH_TRAINER).delete()
    OrmQ.objects.all().delete()


def _seed(recipients: int, excluded: int):
    """Clients for the segment; every ``excluded`` one fails consent for some reason."""
    from django.contrib.auth import get_user_model

    from clients.models import Client
    from scheduling.models import Session

    User = get_user_model()
    trainer, _ = User.objects.get_or_create(
        username=BENCH_TRAINER, defaults={"is_staff": True, "first_name": "Bench", "last_name": "Trainer"}
    )
    manager, _ = User.objects.get_or_create(
        username=f"{BENCH_TRAINER}-manager", defaults={"is_staff": True, "is_superuser": True}
    )
    now = timezone.now()
    reasons = [
        {"email": ""},
        {"email_unsubscribed_at": now},
        {"email_suppressed_at": now, "email_suppressed_reason": "hard bounce"},
        {"email_marketing": False},
    ]
    rows = []
    for i in range(recipients + excluded):
        fields = {"email_marketing": True, "email": f"bench{i}@example.com"}
        if i >= recipients:
            fields |= reasons[i % len(reasons)]
        rows.append(Client(trainer=trainer, first_name=f"Client{i}", last_name="Bench", **fields))
    clients = Client.objects.bulk_create(rows, batch_size=5000)
    # Some history for the "not trained in 30 days" EXISTS: every 5th client trained
    # 60 days ago (still matches), and every 25th trained last week (does not).
    sessions = [
        Session(
            trainer=trainer,
            client=c,
            starts_at=now - timedelta(days=60),
            status=Session.Status.COMPLETED,
        )
        for c in clients[::5]
    ]
    recent = clients[1:recipients:25]
    sessions += [
        Session(trainer=trainer, client=c, starts_at=now - timedelta(days=7), status=Session.Status.COMPLETED)
        for c in recent
    ]
    Session.objects.bulk_create(sessions, batch_size=5000)
    # The recently trained are outside the segment; top up so ``recipients`` match.
    extra = [
        Client(
            trainer=trainer,
            first_name=f"Extra{i}",
            last_name="Bench",
            email=f"bench-extra{i}@example.com",
            email_marketing=True,
        )
        for i in range(len(recent))
    ]
    Client.objects.bulk_create(extra, batch_size=5000)
    # A studio with this many clients has planner statistics (autovacuum keeps them);
    # freshly bulk-loaded tables do not, and PostgreSQL would plan for one row.
    with connection.cursor() as cursor:
        for model in (Client, Session):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return trainer, manager


def bench_planning(recipients: int, excluded: int):
    from campaigns import services
    from campaigns.models import Campaign, Segment
    from clients.models import Client

    trainer, manager = _seed(recipients, excluded)
    segment = Segment.objects.create(
        name="Bench: lapsed, consenting",
        owner=manager,
        trainer=trainer,
        status=Client.Status.ACTIVE,
        no_completed_session_days=30,
    )
    campaign = Campaign.objects.create(
        name="Bench campaign",
        subject="{{ first_name }}, we miss you at {{ studio_name }}",
        body="Hi {{ first_name }},\n\nIt has been a while! {{ trainer_name }} has a free slot for you this week.\n",
        segment=segment,
        created_by=manager,
        status=Campaign.Status.SCHEDULED,
        scheduled_at=timezone.now(),
    )
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = services.campaign_plan(campaign_id=campaign.pk)
        seconds = time.perf_counter() - start
    campaign.refresh_from_db()
    kinds = Counter(q["sql"].split()[0].upper() for q in queries.captured_queries)
    return campaign, {
        "recipients_planned": result.recipients,
        "excluded": campaign.excluded_counts,
        "seconds": round(seconds, 2),
        "queries": len(queries.captured_queries),
        "queries_by_kind": dict(kinds),
        "recipients_per_s": round(result.recipients / seconds),
        "target_seconds": 10,
        "within_target": seconds <= 10,
    }


def bench_delivery(campaign, count: int, reminders: int):
    import time_machine
    from django.core import mail

    from clients.models import Client
    from messaging.delivery import deliver_due
    from messaging.models import Message
    from messaging.services import send_message

    settings.EMAIL_BACKEND = LOCMEM
    mail.outbox = []
    rate = settings.MARKETING_EMAILS_PER_MINUTE
    batch = settings.MESSAGING_BATCH_SIZE
    campaign_msgs = Message.objects.filter(campaign=campaign)
    reminder_client = Client.objects.filter(trainer__username=BENCH_TRAINER, email_marketing=False).first()

    start_clock = timezone.now()
    clock = start_clock
    per_minute = Counter()
    delivered = 0
    busy = 0.0
    reminder_ids, reminders_queued_at, reminders_waited = [], None, None
    with time_machine.travel(clock, tick=False) as traveller:
        while delivered < count:
            if reminders and not reminder_ids and clock - start_clock >= timedelta(minutes=3):
                # Queued behind tens of thousands of campaign emails.
                reminder_ids = [
                    send_message(
                        client=reminder_client, channel="email", subject="Reminder", body="See you tomorrow"
                    ).pk
                    for _ in range(reminders)
                ]
                reminders_queued_at = clock
            t0 = time.perf_counter()
            handled = deliver_due(limit=batch)
            busy += time.perf_counter() - t0
            if (
                reminder_ids
                and reminders_waited is None
                and Message.objects.filter(pk__in=reminder_ids, sent_at__isnull=False).count() == reminders
            ):
                reminders_waited = (clock - reminders_queued_at).total_seconds()
            if handled:
                now_delivered = campaign_msgs.filter(sent_at__isnull=False).count()
                per_minute[int((clock - start_clock).total_seconds() // 60)] += now_delivered - delivered
                delivered = now_delivered
            else:
                clock += timedelta(seconds=1)
                traveller.move_to(clock)
    # Minutes the drain spanned, the one it ended in included.
    elapsed_min = int((clock - start_clock).total_seconds() // 60) + 1
    sent_total = delivered
    # The last minute is partial (the run stops at ``count``).
    full_minutes = [n for _minute, n in sorted(per_minute.items())][:-1] or list(per_minute.values())
    return {
        "setting_per_minute": rate,
        "messages_delivered": sent_total,
        "simulated_minutes": elapsed_min,
        "effective_per_minute": round(sent_total / elapsed_min, 1),
        "full_minutes_mean": round(sum(full_minutes) / len(full_minutes), 1),
        "full_minutes_min_max": [min(full_minutes), max(full_minutes)],
        "engine_wall_seconds": round(busy, 2),
        "engine_capacity_per_s": round(sent_total / busy, 1),
        "transactional_reminders": reminders,
        "reminders_waited_simulated_seconds": reminders_waited,
        "outbox": len(mail.outbox),
    }


def run(args) -> dict:
    parser = argparse.ArgumentParser(prog="bench campaigns")
    parser.add_argument("--recipients", type=int, default=50_000)
    parser.add_argument("--excluded", type=int, default=2_000, help="clients left out for a consent reason")
    parser.add_argument("--deliver", type=int, default=10_000, help="messages to drain at the throttle")
    parser.add_argument("--reminders", type=int, default=20, help="transactional mail queued mid-drain")
    opts = parser.parse_args(args)
    _database_url()
    assert connection.vendor == "postgresql"
    call_command("migrate", verbosity=0)
    try:
        _cleanup()
        campaign, planning = bench_planning(opts.recipients, opts.excluded)
        delivery = bench_delivery(campaign, opts.deliver, opts.reminders)
    finally:
        _cleanup()
    return {
        "database": "postgresql",
        "planning": planning,
        "delivery": delivery,
        "batch_size": settings.MESSAGING_BATCH_SIZE,
    }
