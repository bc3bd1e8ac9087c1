"""A believable demo studio, built through the same services staff use.

Idempotent: users and clients are looked up by natural keys, and a client's
sessions and payments are only generated while the client has none, so a second
run (even on another day) adds nothing.
"""

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.charges import studio_policy
from billing.credits import package_sell
from billing.models import PackageType, Payment, StudioPolicy
from billing.policy import Charge
from billing.services import payment_cancel, payment_create, payment_mark_paid, payment_record_receipt
from clients.models import Client, Tag
from clients.roles import STUDIO_MANAGER, TRAINER
from common.clock import studio_today, studio_tz
from scheduling.models import Availability, SessionType, WorkingHours
from scheduling.services import session_book, session_cancel, session_mark_completed, session_mark_no_show

DEMO_PASSWORD = "fitcrm-demo"
ADMIN = ("admin", "fitcrm-admin")
MANAGER = ("maria", "Maria", "Lopez")
TRAINERS = [("anna", "Anna", "Kowalski"), ("ben", "Ben", "Okafor"), ("chloe", "Chloe", "Martin")]
TIME_ZONES = ["", "", "", "America/New_York", "Australia/Sydney"]
FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Jamie",
    "Riley",
    "Avery",
    "Quinn",
    "Harper",
    "Rowan",
    "Elliot",
    "Sasha",
    "Robin",
    "Noor",
    "Priya",
    "Tom",
    "Lena",
    "Omar",
]
LAST = [
    "Smith",
    "Jones",
    "Patel",
    "Nguyen",
    "Brown",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Silva",
    "Kim",
    "Cohen",
    "Walsh",
    "Haddad",
    "Novak",
]
TAGS = ["bootcamp", "strength", "rehab", "yoga", "online"]
LOCATIONS = ["Studio A", "Studio B", "Park (outdoor)", "Online"]


@dataclass
class SeedReport:
    logins: list = field(default_factory=list)
    created: dict = field(default_factory=dict)


def _user(username, first, last, password, *, group=None, superuser=False):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@studio.example",
            "is_staff": True,
            "is_superuser": superuser,
        },
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user, created


@transaction.atomic
def _policy() -> None:
    """A policy that shows itself in the demo: the first no-show in 90 days is free, later
    ones cost a £20 fee; a late cancellation costs a session credit. A studio's own
    settings are never overwritten."""
    if StudioPolicy.objects.exists():
        return
    policy = studio_policy()
    policy.no_show_charge = Charge.FEE_FIXED
    policy.no_show_fee = Decimal("20.00")
    policy.late_cancel_charge = Charge.CREDIT
    policy.grace_count = 1
    policy.full_clean()
    policy.save()


def _online_booking(trainers):
    """What clients may book in the portal: two studio-wide session types, and each
    trainer's weekday hours (09:00–13:00 and 14:00–18:00, her own clock)."""
    for name, minutes in (("Personal training", 60), ("Short check-in", 30)):
        SessionType.objects.get_or_create(
            name=name,
            trainer=None,
            defaults={"duration_minutes": minutes, "location": "Studio A", "client_bookable": True},
        )
    for trainer in trainers:
        availability, created = Availability.objects.get_or_create(trainer=trainer)
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(availability=availability, weekday=day, start_time=start, end_time=end)
                for day in range(5)
                for start, end in ((time(9), time(13)), (time(14), time(18)))
            )


def seed_demo(*, clients_per_trainer: int = 20, seed: int = 2026) -> SeedReport:
    rng = random.Random(seed)
    report = SeedReport()
    counts = {"users": 0, "clients": 0, "sessions": 0, "payments": 0, "packages": 0}

    _, created = _user(ADMIN[0], "Studio", "Admin", ADMIN[1], superuser=True)
    counts["users"] += created
    report.logins.append((ADMIN[0], ADMIN[1], "superuser"))
    _, created = _user(*MANAGER, DEMO_PASSWORD, group=STUDIO_MANAGER)
    counts["users"] += created
    report.logins.append((MANAGER[0], DEMO_PASSWORD, STUDIO_MANAGER))
    trainers = []
    for username, first, last in TRAINERS:
        user, created = _user(username, first, last, DEMO_PASSWORD, group=TRAINER)
        counts["users"] += created
        trainers.append(user)
        report.logins.append((username, DEMO_PASSWORD, TRAINER))

    _online_booking(trainers)
    _policy()
    tags = [Tag.objects.get_or_create(name=name)[0] for name in TAGS]
    package_types = _package_types()
    today = studio_today()
    now = timezone.now()
    for t_index, trainer in enumerate(trainers):
        for c_index in range(clients_per_trainer):
            n = t_index * clients_per_trainer + c_index
            first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
            # ASCII addresses: Django's email validation refuses "müller@", and
            # demo clients must be editable in the admin as they are.
            ascii_last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
            email = "" if n % 11 == 5 else f"{first}.{ascii_last}.{n}@example.com".lower()
            phone = "" if n % 9 == 4 else f"+4477001{n:05d}"  # valid numbers, so staff can edit them
            if n % 10 == 0:
                # A birthday today, whatever today is: leap years, so 29 February works too.
                birth = date(1984 + 4 * (n % 5), today.month, today.day)
            else:
                birth = date(1970 + n % 35, 1 + n % 12, 1 + n % 28)
            client, created = Client.objects.get_or_create(
                trainer=trainer,
                first_name=first,
                last_name=last,
                defaults={
                    "email": email,
                    "phone": phone,
                    "birth_date": birth,
                    "timezone": TIME_ZONES[n % len(TIME_ZONES)],
                    "status": Client.Status.LEAD if n % 13 == 0 else Client.Status.ACTIVE,
                    "email_marketing": n % 3 != 0,
                    "sms_marketing": n % 4 == 0,
                },
            )
            counts["clients"] += created
            if created:
                client.tags.set(rng.sample(tags, k=rng.randint(0, 2)))
            if not client.sessions.exists():
                # Sold first, so the demo's past sessions spend its credits as they complete.
                counts["packages"] += _package_for(client, c_index, package_types, today)
                counts["sessions"] += _sessions_for(client, trainer, rng, today)
            if not client.payments.exists():
                counts["payments"] += _payments_for(client, rng, today, now)
    report.created = counts
    return report


#: name: (sessions, price, valid for days)
PACKAGE_TYPES = {
    "Ten sessions": (10, "400.00", 90),
    "Starter (3 sessions)": (3, "135.00", 60),
    "Monthly eight": (8, "300.00", 30),
}
#: Per trainer, which clients (by index) bought what and how many days ago: one with
#: credits to spare, one about to run out, one whose package expires in a few days.
PACKAGE_SALES = {1: ("Ten sessions", 30), 2: ("Starter (3 sessions)", 20), 3: ("Monthly eight", 27)}


def _package_types() -> dict:
    types = {}
    for name, (sessions, price, days) in PACKAGE_TYPES.items():
        types[name], _ = PackageType.objects.get_or_create(
            name=name, defaults={"sessions": sessions, "price": Decimal(price), "validity_days": days}
        )
    return types


def _package_for(client, c_index, package_types, today) -> int:
    if c_index not in PACKAGE_SALES or client.packages.exists():
        return 0
    name, days_ago = PACKAGE_SALES[c_index]
    bought_on = today - timedelta(days=days_ago)
    package = package_sell(
        client=client, package_type=package_types[name], bought_on=bought_on, due_date=today
    )
    # Paid at the counter the day it was bought (due today only so it is not overdue at once).
    paid_at = datetime.combine(bought_on, time(12), tzinfo=studio_tz())
    payment_mark_paid(payment=package.payment, method=Payment.Method.CARD, paid_at=paid_at)
    return 1


def _sessions_for(client, trainer, rng, today) -> int:
    made = 0
    tz = studio_tz()
    # One slot per client per week, spread across the day so nobody is double-booked.
    slot_hour = 7 + (client.pk % 12)
    weekday = client.pk % 5
    for week in range(-2, 2):
        day = today + timedelta(days=(weekday - today.weekday()) + 7 * week)
        starts_at = datetime.combine(day, time(slot_hour, 0), tzinfo=tz)
        try:
            session = session_book(
                trainer=trainer,
                client=client,
                starts_at=starts_at,
                duration_minutes=rng.choice([45, 60, 60, 90]),
                location=rng.choice(LOCATIONS),
                allow_past=True,  # the demo's history: sessions of the last two weeks
            )
        except ValidationError:  # a clash in demo data is simply not booked
            continue
        made += 1
        if starts_at < timezone.now():
            roll = rng.random()
            if roll < 0.1:
                session_mark_no_show(session=session)
            elif roll < 0.2:
                session_cancel(session=session)
            else:
                session_mark_completed(session=session)
        elif rng.random() < 0.1:
            session_cancel(session=session)
    return made


def _payments_for(client, rng, today, now) -> int:
    plan = rng.choice(["paid", "pending", "overdue", "cancelled", "paid"])
    amount = Decimal(rng.choice(["35.00", "45.00", "60.00", "240.00"]))
    due = today + timedelta(days=rng.randint(3, 20))
    if plan in ("paid", "overdue"):
        due = today - timedelta(days=rng.randint(1, 20))
    payment = payment_create(client=client, amount=amount, due_date=due, description="Training package")
    if plan == "paid":
        payment_mark_paid(payment=payment, method=Payment.Method.CARD)
    elif plan == "cancelled":
        payment_cancel(payment=payment)
    elif plan == "overdue" and amount >= 60:
        # Part paid: the demo shows a balance, "paid so far" in the portal and a receipt.
        payment_record_receipt(
            payment=payment,
            amount=(amount / 3).quantize(Decimal("1")),
            paid_at=now - timedelta(days=2),
            method=Payment.Method.BANK_TRANSFER,
            reference="Standing order",
        )
    return 1
