"""The dashboard at /admin/: scoped panels, one-click session actions, a bounded query count."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from automation.models import AutomationRule, ScanState, TriggerEvent
from billing import services as billing
from billing.models import Payment
from clients.models import Channel
from messaging.heartbeat import record_heartbeat
from messaging.models import Message
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory, TrainerFactory
from tests.support.clock import utc

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # a Tuesday; London is on UTC in December
INDEX = "/admin/"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def worker_ran(at=NOW - timedelta(minutes=1)):
    record_heartbeat(now=at)


def book(studio_clients=1, *, trainer, other):
    """Each client: a session today, one tomorrow, one last week; money; messages; automation."""
    made = []
    for n in range(studio_clients):
        for who in (trainer, other):
            client = ClientFactory(trainer=who, first_name=f"{who.username}-{n}")
            SessionFactory(client=client, starts_at=NOW + timedelta(hours=2))
            SessionFactory(client=client, starts_at=NOW + timedelta(days=1))
            SessionFactory(client=client, starts_at=NOW - timedelta(days=7), status=Session.Status.COMPLETED)
            PaymentFactory(
                client=client,
                due_date=date(2026, 11, 20),
                status=Payment.Status.OVERDUE,
                overdue_at=NOW - timedelta(days=10),
            )
            PaymentFactory(client=client, due_date=date(2026, 12, 4))
            billing.payment_mark_paid(
                payment=PaymentFactory(client=client, due_date=date(2026, 11, 2), amount=Decimal("10.00")),
                paid_at=NOW - timedelta(days=20),
            )
            Message.objects.create(
                client=client,
                channel=Channel.SMS,
                body="hi",
                status=Message.Status.FAILED,
                error="Twilio 21211: invalid number",
            )
            Message.objects.create(
                client=client,
                channel=Channel.SMS,
                body="later",
                status=Message.Status.QUEUED,
                next_attempt_at=NOW + timedelta(hours=8),
            )
            Message.objects.create(
                client=client,
                channel=Channel.IN_APP,
                body="can we move?",
                direction=Message.Direction.INBOUND,
                status=Message.Status.RECEIVED,
            )
            made.append(client)
    return made


def rules():
    long_ago = NOW - timedelta(days=365)
    for event, offset, channel in (
        (TriggerEvent.SESSION_SCHEDULED, 1, Channel.SMS),
        (TriggerEvent.PAYMENT_DUE, 72, Channel.EMAIL),
        (TriggerEvent.PAYMENT_OVERDUE, 0, Channel.EMAIL),
        (TriggerEvent.BIRTHDAY, 0, Channel.IN_APP),
    ):
        rule = AutomationRule.objects.create(
            name=f"{event} rule",
            trigger_event=event,
            channel=channel,
            body_template="Hi {{ first_name }}",
            offset_hours=offset,
        )
        AutomationRule.objects.filter(pk=rule.pk).update(created_at=long_ago)
    ScanState.objects.create(name="time-triggers", scanned_until=NOW - timedelta(minutes=2))


@pytest.fixture
def other(db):
    return TrainerFactory(username="trainer_b", first_name="Bea", last_name="Other")


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(INDEX)
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_trainer_sees_her_own_book_only(trainer_client, trainer, other):
    book(trainer=trainer, other=other)
    rules()
    response = trainer_client.get(INDEX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "trainer_a-0" in page and "trainer_b-0" not in page
    context = response.context
    assert {s.client.trainer_id for s in context["sessions"]} == {trainer.pk}
    assert context["figures"].overdue_total == Decimal("45.00")
    assert context["figures"].due_soon_total == Decimal("45.00")
    assert context["figures"].unread == 1 and context["figures"].needs_reply == 1
    assert context["health"].failed == 1 and context["health"].held == 1
    assert {p.client.trainer_id for p in context["upcoming"]} == {trainer.pk}
    assert context["upcoming"], "the 1 h reminder of the session in 2 h is coming up"
    # A trainer cannot widen the scope with ?trainer=.
    assert trainer_client.get(INDEX, {"trainer": other.pk}).context["scope"].trainer_id == trainer.pk
    assert "trainer_b-0" not in trainer_client.get(INDEX, {"trainer": other.pk}).content.decode()


def test_manager_sees_the_studio_and_can_pick_a_trainer(manager_client, trainer, other):
    book(trainer=trainer, other=other)
    rules()
    response = manager_client.get(INDEX)
    page = response.content.decode()
    assert "trainer_a-0" in page and "trainer_b-0" in page
    assert response.context["figures"].overdue_total == Decimal("90.00")
    assert {p.client.trainer_id for p in response.context["upcoming"]} == {trainer.pk, other.pk}
    assert 'id="dash-trainer"' in page

    picked = manager_client.get(INDEX, {"trainer": other.pk})
    page = picked.content.decode()
    assert "trainer_b-0" in page and "trainer_a-0" not in page
    assert picked.context["figures"].overdue_total == Decimal("45.00")
    assert {p.client.trainer_id for p in picked.context["upcoming"]} == {other.pk}
    assert picked.context["figures"].unread == 1


def test_the_app_list_stays_on_the_page(manager_client):
    page = manager_client.get(INDEX).content.decode()
    assert reverse("admin:scheduling_session_changelist") in page
    assert reverse("admin:clients_client_changelist") in page


@pytest.mark.parametrize("size", [1, 12])
@pytest.mark.parametrize("who", ["trainer", "manager"])
def test_the_page_costs_a_bounded_number_of_queries(
    client, trainer, manager, other, size, who, django_assert_max_num_queries
):
    book(size, trainer=trainer, other=other)
    rules()
    worker_ran()
    client.force_login(trainer if who == "trainer" else manager)
    # Session and user, role and permissions, the header's unread badge; then the panels:
    # sessions, money (2), inbox (2), delivery (3), charts (2), forecast (up to 10: rules,
    # scan state, one per finder, the log, one per kind of target).
    with django_assert_max_num_queries(20):
        response = client.get(INDEX)
    assert len(response.context["sessions"]) == 2 * size * (1 if who == "trainer" else 2)


# --- Session actions ------------------------------------------------------------------------


def test_complete_no_show_and_cancel_go_through_the_services(trainer_client, trainer):
    started = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=NOW - timedelta(minutes=50))
    later = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=NOW + timedelta(hours=3))
    url = reverse("dashboard:session_action", args=[started.pk, "complete"])
    response = trainer_client.post(url, {"next": "/admin/?x=1"})
    assert response.status_code == 302 and response.url == "/admin/?x=1"
    started.refresh_from_db()
    assert started.status == Session.Status.COMPLETED
    trainer_client.post(reverse("dashboard:session_action", args=[started.pk, "no_show"]))
    started.refresh_from_db()
    assert started.status == Session.Status.NO_SHOW
    trainer_client.post(reverse("dashboard:session_action", args=[later.pk, "cancel"]))
    later.refresh_from_db()
    assert later.status == Session.Status.CANCELLED and later.cancelled_by == Session.CancelledBy.STAFF
    # A refused transition is a message on the page, not an error.
    response = trainer_client.post(
        reverse("dashboard:session_action", args=[later.pk, "complete"]), follow=True
    )
    assert "cannot be marked completed" in response.content.decode()


def test_session_actions_are_scoped_post_only_and_checked(trainer_client, other, client):
    theirs = SessionFactory(client=ClientFactory(trainer=other), starts_at=NOW - timedelta(minutes=30))
    url = reverse("dashboard:session_action", args=[theirs.pk, "complete"])
    assert trainer_client.post(url).status_code == 404
    assert trainer_client.get(url).status_code == 405
    assert (
        trainer_client.post(reverse("dashboard:session_action", args=[theirs.pk, "explode"])).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == Session.Status.SCHEDULED


def test_session_actions_need_the_csrf_token(trainer, client):
    from django.test import Client

    session = SessionFactory(client=ClientFactory(trainer=trainer), starts_at=NOW - timedelta(minutes=30))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(trainer)
    response = strict.post(reverse("dashboard:session_action", args=[session.pk, "complete"]))
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED


# --- Delivery health ------------------------------------------------------------------------


def test_delivery_health_lists_reasons_with_links_to_the_filtered_message_list(manager_client, trainer):
    client = ClientFactory(trainer=trainer)
    for _ in range(2):
        Message.objects.create(
            client=client,
            channel=Channel.SMS,
            body="x",
            status=Message.Status.SUPPRESSED,
            error="opted out of SMS (STOP)",
        )
    Message.objects.create(
        client=client,
        channel=Channel.SMS,
        body="x",
        status=Message.Status.QUEUED,
        next_attempt_at=NOW + timedelta(hours=9),
    )
    Message.objects.create(
        client=client,
        channel=Channel.EMAIL,
        body="x",
        status=Message.Status.QUEUED,
        next_attempt_at=NOW + timedelta(minutes=4),
        attempts=1,
        error="SMTP 451 try later",
    )
    with time_machine.travel(NOW - timedelta(days=8), tick=False):
        Message.objects.create(
            client=client,
            channel=Channel.SMS,
            body="old",
            status=Message.Status.FAILED,
            error="too old to count",
        )
    worker_ran()
    response = manager_client.get(INDEX)
    health = response.context["health"]
    assert (health.failed, health.suppressed, health.held) == (0, 2, 2)
    assert [(r.label, r.text, r.count) for r in health.reasons] == [
        ("Suppressed", "opted out of SMS (STOP)", 2),
        ("Held: retry waiting", "SMTP 451 try later", 1),
        ("Held: deferred", "quiet hours in the client's zone", 1),
    ]
    assert not health.banner
    # Each link opens the admin's list with exactly those messages.
    for reason in health.reasons:
        listed = manager_client.get(reason.url)
        assert listed.status_code == 200, reason.url
        assert listed.context["cl"].result_count == reason.count, reason.url
    assert manager_client.get(health.held_url).context["cl"].result_count == 2


def test_banner_when_the_worker_is_silent_or_the_queue_is_stuck(manager_client, trainer):
    page = manager_client.get(INDEX).content.decode()
    assert "no delivery worker has ever checked in" in page
    worker_ran(NOW - timedelta(minutes=11))
    page = manager_client.get(INDEX).content.decode()
    assert "no delivery worker has checked in for 11\xa0minutes" in page
    worker_ran(NOW - timedelta(seconds=30))
    assert 'id="delivery-banner"' not in manager_client.get(INDEX).content.decode()
    with time_machine.travel(NOW - timedelta(minutes=16), tick=False):
        Message.objects.create(client=ClientFactory(trainer=trainer), channel=Channel.SMS, body="stuck")
    page = manager_client.get(INDEX).content.decode()
    assert 'id="delivery-banner"' in page and "the oldest message due has waited 16\xa0minutes" in page


# --- Charts ---------------------------------------------------------------------------------


def test_charts_come_with_the_same_numbers_as_tables(trainer_client, trainer):
    client = ClientFactory(trainer=trainer)
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    SessionFactory(client=client, starts_at=monday, status=Session.Status.COMPLETED)
    SessionFactory(client=client, starts_at=monday + timedelta(hours=2), status=Session.Status.NO_SHOW)
    late = SessionFactory(
        client=client, starts_at=monday + timedelta(hours=4), status=Session.Status.CANCELLED
    )
    early = SessionFactory(
        client=client, starts_at=monday + timedelta(hours=6), status=Session.Status.CANCELLED
    )
    Session.objects.filter(pk=late.pk).update(cancelled_at=late.starts_at - timedelta(hours=2))
    Session.objects.filter(pk=early.pk).update(cancelled_at=early.starts_at - timedelta(days=3))
    # Collected is money received (receipts): paid through the service, as FitCRM records it.
    billing.payment_mark_paid(
        payment=PaymentFactory(client=client, amount=Decimal("80")), paid_at=NOW - timedelta(hours=1)
    )
    with time_machine.travel(monday, tick=False):
        for status in ("delivered", "sent", "read", "failed"):
            Message.objects.create(client=client, channel=Channel.SMS, body="x", status=status)
        Message.objects.create(
            client=client, channel=Channel.SMS, body="in", direction="in", status=Message.Status.RECEIVED
        )
        Message.objects.create(
            client=client, channel=Channel.EMAIL, body="x", status=Message.Status.SUPPRESSED
        )
    response = trainer_client.get(INDEX)
    charts = {c.id: c for c in response.context["charts"]}
    sessions = dict(charts["chart-sessions"].rows)
    assert sessions["23 Nov"] == [1, 1, 1, 1]
    assert dict(charts["chart-revenue"].rows)["Dec 2026"] == [Decimal("80")]
    assert dict(charts["chart-clients"].rows)["Dec 2026"] == [1, 0]
    # Email, SMS, in-app: 3 of 4 SMS reached the provider; the one email was suppressed.
    assert dict(charts["chart-delivery"].rows)["23 Nov"] == [0.0, 75.0, None]
    assert dict(charts["chart-delivery"].rows)["16 Nov"] == [None, None, None]
    page = response.content.decode()
    assert page.count("<canvas") == 4
    assert 'id="chart-sessions-data" type="application/json"' in page
    assert "dashboard/vendor/chart.js-4.6.1/chart.umd.min.js" in page
    assert '<th scope="row">23 Nov</th>' in page


def test_money_figures_count_what_was_received_and_what_is_still_owed(manager):
    # Payments are paid in parts (receipts): "Overdue" and "Due in the next 7 days" summed
    # the whole amounts, and "Collected" counted a payment's whole amount in the month its
    # last part arrived, never the parts of one still open or cancelled.
    from dashboard.selectors import Scope, figures

    client = ClientFactory()
    overdue = PaymentFactory(client=client, amount=Decimal("60.00"), due_date=date(2026, 11, 20))
    billing.payment_record_receipt(payment=overdue, amount=Decimal("20.00"), paid_at=utc(2026, 11, 10))
    Payment.objects.filter(pk=overdue.pk).update(status=Payment.Status.OVERDUE, overdue_at=NOW)
    due_soon = PaymentFactory(client=client, amount=Decimal("100.00"), due_date=date(2026, 12, 4))
    billing.payment_record_receipt(payment=due_soon, amount=Decimal("30.00"), paid_at=utc(2026, 12, 1, 9))
    paid = PaymentFactory(client=client, amount=Decimal("50.00"), due_date=date(2026, 11, 1))
    billing.payment_record_receipt(payment=paid, amount=Decimal("25.00"), paid_at=utc(2026, 11, 5))
    billing.payment_record_receipt(payment=paid, amount=Decimal("25.00"), paid_at=utc(2026, 12, 1, 10))
    written_off = PaymentFactory(client=client, amount=Decimal("40.00"), due_date=date(2026, 11, 1))
    billing.payment_record_receipt(payment=written_off, amount=Decimal("15.00"), paid_at=utc(2026, 11, 20))
    billing.payment_cancel(payment=written_off)

    result = figures(Scope(manager, None), now=NOW)

    assert (result.overdue_total, result.overdue_count) == (Decimal("40.00"), 1)
    assert (result.due_soon_total, result.due_soon_count) == (Decimal("70.00"), 1)
    assert result.this_month == Decimal("55.00")  # 30 + 25, received in December
    assert result.last_month == Decimal("60.00")  # 20 + 25 + 15, received in November


def test_the_oldest_overdue_table_shows_what_is_still_owed(manager_client):
    overdue = PaymentFactory(amount=Decimal("60.00"), due_date=date(2026, 11, 20))
    billing.payment_record_receipt(payment=overdue, amount=Decimal("20.00"))
    Payment.objects.filter(pk=overdue.pk).update(status=Payment.Status.OVERDUE, overdue_at=NOW)
    page = manager_client.get(INDEX).content.decode()
    assert '<th scope="col" class="num">Still owed</th>' in page
    assert '<td class="num">40.00 GBP</td>' in page


# --- Revenue collected: the receipts, by the day the money arrived ----------------------------


def received(payment, amount, at):
    return billing.payment_record_receipt(payment=payment, amount=Decimal(amount), paid_at=at)


def collected(response):
    figures = response.context["figures"]
    return {month.strftime("%Y-%m"): total for month, total in figures.collected.items() if total}


def test_a_payment_paid_in_parts_counts_in_the_months_the_parts_arrived(trainer_client, trainer):
    payment = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("100.00"))
    received(payment, "40.00", datetime(2026, 10, 15, 12, 0, tzinfo=UTC))
    received(payment, "60.00", datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    response = trainer_client.get(INDEX)
    assert collected(response) == {"2026-10": Decimal("40.00"), "2026-11": Decimal("60.00")}
    assert response.context["figures"].last_month == Decimal("60.00")
    assert response.context["figures"].this_month == 0
    revenue = dict({c.id: c for c in response.context["charts"]}["chart-revenue"].rows)
    assert revenue["Oct 2026"] == [Decimal("40.00")] and revenue["Nov 2026"] == [Decimal("60.00")]


def test_a_part_payment_counts_before_the_payment_is_paid(trainer_client, trainer):
    payment = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("90.00"))
    received(payment, "30.00", NOW - timedelta(hours=2))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert trainer_client.get(INDEX).context["figures"].this_month == Decimal("30.00")


def test_receipts_count_in_the_studios_month(trainer_client, trainer):
    # 23:30 UTC on 30 September is 00:30 on 1 October in London (on summer time).
    payment = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("50.00"))
    received(payment, "50.00", datetime(2026, 9, 30, 23, 30, tzinfo=UTC))
    assert collected(trainer_client.get(INDEX)) == {"2026-10": Decimal("50.00")}


def test_revenue_is_scoped_to_the_book(client, trainer, other, manager):
    mine = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("100.00"))
    theirs = PaymentFactory(client=ClientFactory(trainer=other), amount=Decimal("100.00"))
    received(mine, "30.00", NOW - timedelta(days=10))
    received(theirs, "50.00", NOW - timedelta(days=10))
    received(theirs, "20.00", NOW - timedelta(days=9))
    client.force_login(trainer)
    assert collected(client.get(INDEX)) == {"2026-11": Decimal("30.00")}
    assert collected(client.get(INDEX, {"trainer": other.pk})) == {"2026-11": Decimal("30.00")}
    client.force_login(manager)
    assert collected(client.get(INDEX)) == {"2026-11": Decimal("100.00")}
    assert collected(client.get(INDEX, {"trainer": other.pk})) == {"2026-11": Decimal("70.00")}


def test_money_received_on_a_cancelled_payment_still_counts(trainer_client, trainer):
    payment = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("90.00"))
    received(payment, "20.00", NOW - timedelta(days=15))
    billing.payment_cancel(payment=payment)
    assert collected(trainer_client.get(INDEX)) == {"2026-11": Decimal("20.00")}


def test_the_rest_paid_in_one_go_counts_only_the_rest(trainer_client, trainer):
    # payment_mark_paid receives the balance (one receipt for £30), not the whole amount again.
    payment = PaymentFactory(client=ClientFactory(trainer=trainer), amount=Decimal("45.00"))
    received(payment, "15.00", datetime(2026, 10, 5, 12, 0, tzinfo=UTC))
    billing.payment_mark_paid(payment=payment, paid_at=NOW - timedelta(days=3))
    assert collected(trainer_client.get(INDEX)) == {"2026-10": Decimal("15.00"), "2026-11": Decimal("30.00")}
