import datetime as dt
import zoneinfo

import pytest
import time_machine

from billing.models import Payment
from campaigns.models import Segment
from campaigns.selectors import segment_clients, segment_preview
from clients.models import Client
from scheduling.models import Session
from tests.factories import ClientFactory, PaymentFactory, SessionFactory, TagFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
LONDON = zoneinfo.ZoneInfo("Europe/London")


def matches(segment, **kwargs):
    return set(segment_clients(segment, now=NOW, **kwargs).values_list("first_name", flat=True))


@pytest.fixture
def manager_segment(manager):
    def make(**conditions):
        tags = conditions.pop("tags", [])
        segment = Segment.objects.create(name="test", owner=manager, **conditions)
        segment.tags.set(tags)
        return segment

    return make


def test_empty_segment_matches_every_client(manager_segment):
    ClientFactory(first_name="Ann")
    ClientFactory(first_name="Bob", status=Client.Status.LEAD)
    assert matches(manager_segment()) == {"Ann", "Bob"}


def test_status(manager_segment):
    ClientFactory(first_name="Ann", status=Client.Status.ACTIVE)
    ClientFactory(first_name="Bob", status=Client.Status.INACTIVE)
    assert matches(manager_segment(status=Client.Status.INACTIVE)) == {"Bob"}


def test_trainer(manager_segment, trainer, other_trainer):
    ClientFactory(first_name="Ann", trainer=trainer)
    ClientFactory(first_name="Bob", trainer=other_trainer)
    assert matches(manager_segment(trainer=other_trainer)) == {"Bob"}


def test_tags_any_and_all(manager_segment):
    bootcamp, yoga = TagFactory(name="bootcamp"), TagFactory(name="yoga")
    ClientFactory(first_name="Ann").tags.set([bootcamp])
    ClientFactory(first_name="Bob").tags.set([bootcamp, yoga])
    ClientFactory(first_name="Cat").tags.set([yoga])
    ClientFactory(first_name="Dan")
    assert matches(manager_segment(tags=[bootcamp, yoga])) == {"Ann", "Bob", "Cat"}
    assert matches(manager_segment(tags=[bootcamp, yoga], tags_match=Segment.TagsMatch.ALL)) == {"Bob"}
    assert matches(manager_segment(tags=[bootcamp])) == {"Ann", "Bob"}


def test_has_overdue_payment_counts_pending_past_due_and_overdue(manager_segment):
    today = NOW.date()
    ann = ClientFactory(first_name="Ann")
    PaymentFactory(client=ann, status=Payment.Status.OVERDUE, due_date=today - dt.timedelta(days=3))
    bob = ClientFactory(first_name="Bob")
    PaymentFactory(client=bob, status=Payment.Status.PENDING, due_date=today - dt.timedelta(days=1))
    cat = ClientFactory(first_name="Cat")
    PaymentFactory(client=cat, status=Payment.Status.PENDING, due_date=today + dt.timedelta(days=1))
    dan = ClientFactory(first_name="Dan")
    PaymentFactory(client=dan, status=Payment.Status.PAID, due_date=today - dt.timedelta(days=9), paid_at=NOW)
    assert matches(manager_segment(has_overdue_payment=True)) == {"Ann", "Bob"}
    assert matches(manager_segment(has_overdue_payment=False)) == {"Cat", "Dan"}


def test_no_completed_session_in_n_days(manager_segment):
    recent = ClientFactory(first_name="Ann")
    SessionFactory(client=recent, starts_at=NOW - dt.timedelta(days=10), status=Session.Status.COMPLETED)
    lapsed = ClientFactory(first_name="Bob")
    SessionFactory(client=lapsed, starts_at=NOW - dt.timedelta(days=40), status=Session.Status.COMPLETED)
    # A no-show is not training.
    SessionFactory(client=lapsed, starts_at=NOW - dt.timedelta(days=5), status=Session.Status.NO_SHOW)
    ClientFactory(first_name="Cat")  # never trained
    assert matches(manager_segment(no_completed_session_days=30)) == {"Bob", "Cat"}


def test_has_a_session_in_the_next_n_days(manager_segment):
    soon = ClientFactory(first_name="Ann")
    SessionFactory(client=soon, starts_at=NOW + dt.timedelta(days=2))
    later = ClientFactory(first_name="Bob")
    SessionFactory(client=later, starts_at=NOW + dt.timedelta(days=9))
    cancelled = ClientFactory(first_name="Cat")
    SessionFactory(client=cancelled, starts_at=NOW + dt.timedelta(days=1), status=Session.Status.CANCELLED)
    past = ClientFactory(first_name="Dan")
    SessionFactory(client=past, starts_at=NOW - dt.timedelta(hours=1))
    assert matches(manager_segment(session_in_next_days=7)) == {"Ann"}


def test_birthday_month(manager_segment):
    ClientFactory(first_name="Ann", birth_date=dt.date(1990, 6, 30))
    ClientFactory(first_name="Bob", birth_date=dt.date(1990, 7, 1))
    ClientFactory(first_name="Cat", birth_date=None)
    assert matches(manager_segment(birthday_month=6)) == {"Ann"}


def test_joined_before_and_after_use_the_studio_calendar(manager_segment):
    def joined(name, at):
        client = ClientFactory(first_name=name)
        Client.objects.filter(pk=client.pk).update(created_at=at)

    # 23:30 UTC on 31 May is already 1 June in London (BST).
    joined("Ann", dt.datetime(2026, 5, 31, 23, 30, tzinfo=dt.UTC))
    joined("Bob", dt.datetime(2026, 5, 31, 22, 30, tzinfo=dt.UTC))
    joined("Cat", dt.datetime(2026, 6, 10, 9, 0, tzinfo=LONDON))
    assert matches(manager_segment(joined_after=dt.date(2026, 6, 1))) == {"Ann", "Cat"}
    assert matches(manager_segment(joined_before=dt.date(2026, 6, 1))) == {"Bob"}
    assert matches(manager_segment(joined_after=dt.date(2026, 6, 1), joined_before=dt.date(2026, 6, 5))) == {
        "Ann"
    }


def test_has_email_and_marketing_consent(manager_segment):
    ClientFactory(first_name="Ann", email="", email_marketing=True)
    ClientFactory(first_name="Bob", email_marketing=True)
    ClientFactory(first_name="Cat", email_marketing=False)
    assert matches(manager_segment(has_email=True)) == {"Bob", "Cat"}
    assert matches(manager_segment(has_email=False)) == {"Ann"}
    assert matches(manager_segment(email_marketing=True)) == {"Ann", "Bob"}
    assert matches(manager_segment(has_email=True, email_marketing=True)) == {"Bob"}


def test_conditions_combine_with_and(manager_segment, trainer):
    bootcamp = TagFactory(name="bootcamp")
    lapsed_bootcamper = ClientFactory(first_name="Ann", trainer=trainer, email_marketing=True)
    lapsed_bootcamper.tags.set([bootcamp])
    lead_bootcamper = ClientFactory(
        first_name="Bob", trainer=trainer, status=Client.Status.LEAD, email_marketing=True
    )
    lead_bootcamper.tags.set([bootcamp])
    active_bootcamper = ClientFactory(first_name="Cat", trainer=trainer, email_marketing=True)
    active_bootcamper.tags.set([bootcamp])
    SessionFactory(
        client=active_bootcamper, starts_at=NOW - dt.timedelta(days=3), status=Session.Status.COMPLETED
    )
    ClientFactory(first_name="Dan", trainer=trainer, email_marketing=True)  # not tagged

    segment = manager_segment(
        status=Client.Status.ACTIVE, tags=[bootcamp], no_completed_session_days=30, email_marketing=True
    )
    assert matches(segment) == {"Ann"}


def test_segment_is_evaluated_live(manager_segment):
    ann = ClientFactory(first_name="Ann", status=Client.Status.ACTIVE)
    segment = manager_segment(status=Client.Status.ACTIVE)
    assert matches(segment) == {"Ann"}
    Client.objects.filter(pk=ann.pk).update(status=Client.Status.INACTIVE)
    ClientFactory(first_name="Bob", status=Client.Status.ACTIVE)
    assert matches(segment) == {"Bob"}


def test_segment_compiles_to_one_query(manager_segment, django_assert_num_queries):
    segment = manager_segment(
        status=Client.Status.ACTIVE,
        tags=[TagFactory(name="a"), TagFactory(name="b")],
        tags_match=Segment.TagsMatch.ALL,
        has_overdue_payment=True,
        no_completed_session_days=30,
        session_in_next_days=7,
        birthday_month=6,
        joined_after=dt.date(2020, 1, 1),
        has_email=True,
        email_marketing=True,
    )
    # 1: the segment's tag ids; 2: is the owner a manager (their groups);
    # 3: the clients, every condition in one WHERE (EXISTS subqueries).
    with django_assert_num_queries(3):
        list(segment_clients(segment, now=NOW))


# --- Trainer scoping -------------------------------------------------------------


def test_a_trainers_segment_only_matches_their_own_clients(trainer, other_trainer):
    ClientFactory(first_name="Mine", trainer=trainer)
    ClientFactory(first_name="Theirs", trainer=other_trainer)
    segment = Segment.objects.create(name="everyone?", owner=trainer)
    assert matches(segment) == {"Mine"}
    # Even when the trainer names the other trainer as the condition.
    segment.trainer = other_trainer
    assert matches(segment) == set()


def test_a_managers_segment_targets_everyone_but_a_trainer_evaluating_it_sees_only_theirs(
    manager, trainer, other_trainer
):
    ClientFactory(first_name="Mine", trainer=trainer)
    ClientFactory(first_name="Theirs", trainer=other_trainer)
    segment = Segment.objects.create(name="studio", owner=manager)
    assert matches(segment) == {"Mine", "Theirs"}
    assert matches(segment, as_user=trainer) == {"Mine"}


def test_preview_counts_and_samples(manager_segment):
    for name in ["Ann", "Bob", "Cat"]:
        ClientFactory(first_name=name, last_name=name)
    with time_machine.travel(NOW, tick=False):
        preview = segment_preview(manager_segment(), size=2)
    assert preview.count == 3
    assert [c.first_name for c in preview.sample] == ["Ann", "Bob"]
    assert segment_preview(manager_segment(status=Client.Status.LEAD)).count == 0
