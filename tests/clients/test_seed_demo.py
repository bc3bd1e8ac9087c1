"""seed_demo: a believable studio, the same after a second run."""

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F
from django.http import HttpRequest

from billing.credits import client_credit_summary
from billing.models import ClientPackage, CreditEntry, Payment, SessionCharge, StudioPolicy
from clients.models import Client, Tag
from clients.roles import STUDIO_MANAGER, TRAINER
from common.clock import studio_tz
from scheduling.models import Session

pytestmark = pytest.mark.django_db
NOW = datetime(2027, 5, 12, 10, tzinfo=ZoneInfo("Europe/London"))


def counts():
    User = get_user_model()
    return {
        "users": User.objects.count(),
        "clients": Client.objects.count(),
        "tags": Tag.objects.count(),
        "client_tags": Client.tags.through.objects.count(),
        "sessions": Session.objects.count(),
        "payments": Payment.objects.count(),
        "credit_entries": CreditEntry.objects.count(),
        "trainers": User.objects.filter(groups__name=TRAINER).count(),
        "managers": User.objects.filter(groups__name=STUDIO_MANAGER).count(),
    }


@pytest.fixture
def seeded(settings):
    settings.DEBUG = True  # as under `make run`; the test runner turns it off
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_running_it_twice_gives_the_same_counts(seeded):
    first = counts()
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", stdout=out)
    assert counts() == first
    assert "0 users, 0 clients, 0 sessions, 0 payments, 0 packages created" in out.getvalue()


def test_a_second_run_on_a_later_day_adds_nothing_either(seeded):
    first = counts()
    with time_machine.travel(datetime(2027, 5, 20, 10, tzinfo=ZoneInfo("Europe/London")), tick=False):
        call_command("seed_demo", stdout=StringIO())
    assert counts() == first


def test_it_prints_the_logins_and_they_work(seeded, client):
    assert "admin    fitcrm-admin" in seeded
    for username in ["maria", "anna", "ben", "chloe"]:
        assert f"{username:<8} fitcrm-demo" in seeded
    # django-axes counts every authenticate() by the request it came with.
    assert client.login(request=HttpRequest(), username="admin", password="fitcrm-admin")
    assert client.login(request=HttpRequest(), username="anna", password="fitcrm-demo")


def test_the_studio_is_believable(seeded):
    c = counts()
    assert (c["trainers"], c["managers"]) == (3, 1)
    assert 55 <= c["clients"] <= 65
    assert {tz or "studio" for tz in Client.objects.values_list("timezone", flat=True)} == {
        "studio",
        "America/New_York",
        "Australia/Sydney",
    }
    assert Client.objects.filter(email="").exists()
    assert Client.objects.filter(phone="").exists()
    today = NOW.date()
    assert Client.objects.filter(birth_date__month=today.month, birth_date__day=today.day).count() >= 3
    statuses = set(Session.objects.values_list("status", flat=True))
    assert statuses == {"scheduled", "completed", "cancelled", "no_show"}
    assert Session.objects.filter(starts_at__lt=NOW).exists()
    assert Session.objects.filter(starts_at__gt=NOW).exists()
    assert set(Payment.objects.values_list("status", flat=True)) == {
        "pending",
        "paid",
        "overdue",
        "cancelled",
    }
    assert not Payment.objects.filter(status="paid", paid_at__isnull=True).exists()


@pytest.mark.parametrize("day", [(2027, 5, 31), (2028, 2, 29)])
def test_some_clients_have_their_birthday_on_the_day_it_runs_even_at_month_end(settings, day):
    settings.DEBUG = True
    with time_machine.travel(datetime(*day, 10, tzinfo=ZoneInfo("Europe/London")), tick=False):
        call_command("seed_demo", stdout=StringIO())
    assert Client.objects.filter(birth_date__month=day[1], birth_date__day=day[2]).count() >= 3


def test_every_seeded_client_can_be_saved_from_the_admin_unchanged(seeded):
    # Demo data must pass the same validation staff face (phones, time zones, emails).
    from clients.forms import ClientForm

    for client in Client.objects.all():
        data = {f: getattr(client, f) for f in ClientForm._meta.fields if f != "tags"}
        data["trainer"] = client.trainer_id
        data["phone"] = str(client.phone)
        form = ClientForm(data=data, instance=client)
        assert form.is_valid(), (client, form.errors)


def test_it_refuses_to_seed_a_production_database(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="Refusing to seed demo data with DEBUG off"):
        call_command("seed_demo", stdout=StringIO())
    assert not Client.objects.exists()


def test_demo_clients_can_book_online_with_their_trainer(seeded):
    from datetime import timedelta

    from scheduling.availability import free_slots
    from scheduling.models import SessionType

    assert set(SessionType.objects.filter(client_bookable=True).values_list("name", flat=True)) == {
        "Personal training",
        "Short check-in",
    }
    from django.contrib.auth import get_user_model

    anna = get_user_model().objects.get(username="anna")
    with time_machine.travel(NOW, tick=False):
        slots = free_slots(trainer=anna, duration_minutes=60, start=NOW, end=NOW + timedelta(days=14))
    assert slots, "the portal's booking page would offer nothing"


def test_the_demo_shows_credits_spent_one_package_low_and_one_expiring_soon(seeded):
    with time_machine.travel(NOW, tick=False):
        summaries = [
            p for c in Client.objects.filter(packages__isnull=False) for p in client_credit_summary(c)
        ]
    assert len(summaries) == ClientPackage.objects.count() == 9
    assert CreditEntry.objects.filter(kind=CreditEntry.Kind.SPEND).count() >= 6
    assert any(p.credits_left <= 1 for p in summaries)
    assert any(
        p.valid_until and (p.valid_until - NOW.date()).days <= 7 and p.credits_left > 0 for p in summaries
    )
    for package in ClientPackage.objects.select_related("payment"):
        # Paid at the counter on the day it was bought, not the day the demo was made.
        assert package.payment.status == Payment.Status.PAID
        assert package.payment.paid_at.astimezone(studio_tz()).date() == package.bought_on


def test_the_demo_has_receipts_and_a_part_paid_payment(seeded):
    part_paid = Payment.objects.filter(amount_paid__gt=0, amount_paid__lt=F("amount"))
    assert part_paid.exists(), "no client in the demo owes the rest of a payment"
    for payment in Payment.objects.filter(amount_paid__gt=0).prefetch_related("receipts"):
        assert sum(r.amount for r in payment.receipts.all()) == payment.amount_paid


def test_the_demo_policy_charges_later_no_shows_a_fee_and_never_overwrites_a_studios_own(seeded):
    policy = StudioPolicy.objects.get()
    assert (policy.no_show_charge, policy.no_show_fee, policy.grace_count) == ("fee_fixed", 20, 1)
    outcomes = set(SessionCharge.objects.values_list("outcome", flat=True))
    assert {SessionCharge.Outcome.FREE, SessionCharge.Outcome.FEE} <= outcomes

    policy.no_show_charge = "nothing"
    policy.save()
    call_command("seed_demo", stdout=StringIO())
    assert StudioPolicy.objects.get().no_show_charge == "nothing"
