"""Booking rules: no double-booking for trainer or client, weekly series, status changes."""

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from scheduling import services
from scheduling.models import Session
from tests.factories import ClientFactory, SessionFactory

LONDON = zoneinfo.ZoneInfo("Europe/London")
pytestmark = pytest.mark.django_db


def at(*args):
    return datetime(*args, tzinfo=LONDON)


def book(trainer, client, starts_at, minutes=60):
    return services.session_book(
        trainer=trainer, client=client, starts_at=starts_at, duration_minutes=minutes
    )


class TestDoubleBooking:
    def test_trainer_cannot_be_double_booked_and_the_error_names_the_clash(self, trainer):
        first = book(
            trainer, ClientFactory(trainer=trainer, first_name="Ada", last_name="Lane"), at(2027, 1, 11, 9)
        )
        with pytest.raises(ValidationError) as exc:
            book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 9, 30))
        message = " ".join(exc.value.messages)
        assert "The trainer already has a session at that time" in message
        assert "Ada Lane" in message
        assert f"session #{first.pk}" in message
        assert "Mon 11 Jan 2027 09:00–10:00" in message
        assert Session.objects.count() == 1

    def test_client_cannot_be_booked_with_two_trainers_at_once(self, trainer, other_trainer):
        client = ClientFactory(trainer=trainer)
        first = book(trainer, client, at(2027, 1, 11, 9))
        with pytest.raises(ValidationError) as exc:
            book(other_trainer, client, at(2027, 1, 11, 9, 45), minutes=30)
        assert "The client already has a session at that time" in exc.value.messages[0]
        assert f"session #{first.pk}" in exc.value.messages[0]

    def test_back_to_back_sessions_do_not_clash(self, trainer):
        book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 9))
        book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 10))
        book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 8))
        assert Session.objects.count() == 3

    def test_a_long_session_that_started_earlier_still_clashes(self, trainer):
        book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 6), minutes=240)
        with pytest.raises(ValidationError):
            book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 9, 59), minutes=15)

    @pytest.mark.parametrize(
        "status", [Session.Status.CANCELLED, Session.Status.COMPLETED, Session.Status.NO_SHOW]
    )
    def test_a_session_that_is_no_longer_scheduled_frees_the_slot(self, trainer, status):
        SessionFactory(
            client=ClientFactory(trainer=trainer),
            trainer=trainer,
            starts_at=at(2027, 1, 11, 9),
            status=status,
        )
        session = book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 9))
        assert session.pk and session.status == Session.Status.SCHEDULED

    def test_moving_a_session_does_not_clash_with_itself_but_with_others(self, trainer):
        client = ClientFactory(trainer=trainer)
        session = book(trainer, client, at(2027, 1, 11, 9))
        services.session_update(session=session, starts_at=at(2027, 1, 11, 9, 30))
        other = book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 11))
        with pytest.raises(ValidationError, match=f"session #{other.pk}"):
            services.session_update(session=session, starts_at=at(2027, 1, 11, 11, 15))
        session.refresh_from_db()
        assert session.starts_at == at(2027, 1, 11, 9, 30)

    @pytest.mark.parametrize("year", [1, 1900, 2101, 9999])
    def test_a_start_time_in_an_absurd_year_is_refused_clearly(self, trainer, year):
        with pytest.raises(ValidationError, match="between the years 1970 and 2100"):
            book(trainer, ClientFactory(trainer=trainer), datetime(year, 12, 31, 23, tzinfo=LONDON))
        with pytest.raises(ValidationError, match="between the years 1970 and 2100"):
            services.session_book_weekly_series(
                trainer=trainer,
                client=ClientFactory(trainer=trainer),
                first_starts_at=datetime(year, 12, 31, 23, tzinfo=LONDON),
                occurrences=2,
            )

    def test_a_naive_start_time_is_refused(self, trainer):
        with pytest.raises(ValidationError, match="time zone"):
            book(trainer, ClientFactory(trainer=trainer), datetime(2027, 1, 11, 9))


class TestDuration:
    @pytest.mark.parametrize(
        ("minutes", "message"),
        [
            (0, "A session lasts at least one minute."),
            (-30, "A session lasts at least one minute."),
            (12 * 60 + 1, "A session lasts at most 12 hours."),
        ],
    )
    def test_duration_must_be_positive_and_bounded(self, trainer, minutes, message):
        with pytest.raises(ValidationError) as exc:
            book(trainer, ClientFactory(trainer=trainer), at(2027, 1, 11, 9), minutes=minutes)
        assert message in exc.value.messages
        assert not Session.objects.exists()

    def test_the_database_refuses_a_zero_duration_too(self, trainer):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            SessionFactory(client=ClientFactory(trainer=trainer), duration_minutes=0)


class TestWeeklySeries:
    def test_books_one_session_per_week_sharing_a_series_id(self, trainer, client_obj):
        result = services.session_book_weekly_series(
            trainer=trainer, client=client_obj, first_starts_at=at(2027, 1, 4, 18), occurrences=6
        )
        assert len(result.booked) == 6
        assert result.clashes == []
        sessions = Session.objects.filter(series=result.series).order_by("starts_at")
        assert [s.starts_at for s in sessions] == [at(2027, 1, 4, 18) + timedelta(weeks=w) for w in range(6)]

    def test_clashing_weeks_are_reported_not_skipped_silently(self, trainer, client_obj):
        blocker = book(trainer, ClientFactory(trainer=trainer, first_name="Bo"), at(2027, 1, 18, 18, 30))
        result = services.session_book_weekly_series(
            trainer=trainer, client=client_obj, first_starts_at=at(2027, 1, 4, 18), occurrences=4
        )
        assert len(result.booked) == 3
        assert len(result.clashes) == 1
        starts_at, reasons = result.clashes[0]
        assert starts_at == at(2027, 1, 18, 18)
        assert f"session #{blocker.pk}" in reasons[0]
        assert "The trainer already has a session" in reasons[0]
        assert Session.objects.filter(series=result.series).count() == 3

    def test_local_time_stays_put_across_the_spring_clock_change(self, trainer, client_obj):
        # Europe/London moves to BST on Sunday 28 March 2027.
        result = services.session_book_weekly_series(
            trainer=trainer, client=client_obj, first_starts_at=at(2027, 3, 15, 7), occurrences=4
        )
        local = [timezone.localtime(s.starts_at) for s in result.booked]
        assert [(d.date().isoformat(), d.hour, d.minute) for d in local] == [
            ("2027-03-15", 7, 0),
            ("2027-03-22", 7, 0),
            ("2027-03-29", 7, 0),
            ("2027-04-05", 7, 0),
        ]
        utc_hours = [s.starts_at.astimezone(zoneinfo.ZoneInfo("UTC")).hour for s in result.booked]
        assert utc_hours == [7, 7, 6, 6]

    def test_local_time_stays_put_across_the_autumn_clock_change(self, trainer, client_obj):
        # Back to GMT on Sunday 31 October 2027.
        result = services.session_book_weekly_series(
            trainer=trainer, client=client_obj, first_starts_at=at(2027, 10, 25, 19, 30), occurrences=2
        )
        assert [timezone.localtime(s.starts_at).strftime("%H:%M") for s in result.booked] == [
            "19:30",
            "19:30",
        ]
        assert [s.starts_at.astimezone(zoneinfo.ZoneInfo("UTC")).hour for s in result.booked] == [18, 19]

    @pytest.mark.parametrize("occurrences", [0, -1, 105])
    def test_occurrences_are_bounded(self, trainer, client_obj, occurrences):
        with pytest.raises(ValidationError, match="between 1 and 104"):
            services.session_book_weekly_series(
                trainer=trainer,
                client=client_obj,
                first_starts_at=at(2027, 1, 4, 18),
                occurrences=occurrences,
            )

    def test_an_invalid_duration_is_refused_once_not_reported_as_clashes(self, trainer, client_obj):
        with pytest.raises(ValidationError, match="at least one minute"):
            services.session_book_weekly_series(
                trainer=trainer,
                client=client_obj,
                first_starts_at=at(2027, 1, 4, 18),
                occurrences=3,
                duration_minutes=0,
            )
        assert not Session.objects.exists()


class TestStatusChanges:
    def test_scheduled_session_can_be_completed_cancelled_or_no_show(self, trainer, client_obj):
        for service, status in [
            (services.session_mark_completed, Session.Status.COMPLETED),
            (services.session_mark_no_show, Session.Status.NO_SHOW),
            (services.session_cancel, Session.Status.CANCELLED),
        ]:
            session = SessionFactory(
                client=client_obj, starts_at=timezone.now() - timedelta(days=len(status))
            )
            service(session=session)
            session.refresh_from_db()
            assert session.status == status

    @pytest.mark.parametrize(
        "service, word",
        [(services.session_mark_completed, "completed"), (services.session_mark_no_show, "no-show")],
    )
    def test_a_future_session_cannot_have_happened(self, client_obj, service, word):
        session = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(hours=2))
        with pytest.raises(ValidationError) as exc:
            service(session=session)
        assert exc.value.code == "not_started"
        assert "This session has not started yet (it starts " in exc.value.messages[0]
        assert f"cannot be marked {word} before then." in exc.value.messages[0]
        session.refresh_from_db()
        assert session.status == Session.Status.SCHEDULED

    def test_a_session_under_way_can_be_marked(self, client_obj):
        session = SessionFactory(client=client_obj, starts_at=timezone.now() - timedelta(minutes=5))
        services.session_mark_no_show(session=session)
        assert session.status == Session.Status.NO_SHOW


class TestBookingInThePast:
    def test_a_booking_in_the_past_needs_confirmation(self, trainer, client_obj):
        past = timezone.now() - timedelta(days=1)
        with pytest.raises(ValidationError) as exc:
            services.session_book(trainer=trainer, client=client_obj, starts_at=past)
        assert exc.value.code == "in_past"
        assert "is in the past" in exc.value.messages[0]
        assert not Session.objects.exists()
        session = services.session_book(trainer=trainer, client=client_obj, starts_at=past, allow_past=True)
        assert session.pk

    def test_a_move_into_the_past_needs_confirmation_but_editing_a_past_session_does_not(self, client_obj):
        session = SessionFactory(client=client_obj, starts_at=timezone.now() - timedelta(days=3))
        services.session_update(session=session, notes="knee better")  # not a move
        with pytest.raises(ValidationError) as exc:
            services.session_update(session=session, starts_at=timezone.now() - timedelta(days=1))
        assert exc.value.code == "in_past"
        future = SessionFactory(client=client_obj, starts_at=timezone.now() + timedelta(days=3))
        with pytest.raises(ValidationError):
            services.session_update(session=future, starts_at=timezone.now() - timedelta(hours=1))

    def test_a_series_starting_in_the_past_needs_confirmation(self, trainer, client_obj):
        with pytest.raises(ValidationError) as exc:
            services.session_book_weekly_series(
                trainer=trainer,
                client=client_obj,
                first_starts_at=timezone.now() - timedelta(days=8),
                occurrences=3,
            )
        assert exc.value.code == "in_past"
        assert not Session.objects.exists()

    def test_cancel_records_when_and_by_whom(self, client_obj):
        session = SessionFactory(client=client_obj)
        services.session_cancel(session=session, by=Session.CancelledBy.CLIENT)
        session.refresh_from_db()
        assert session.cancelled_at is not None
        assert session.cancelled_by == Session.CancelledBy.CLIENT

    @pytest.mark.parametrize(
        ("start", "service", "message"),
        [
            (
                Session.Status.CANCELLED,
                services.session_mark_completed,
                "A cancelled session cannot be marked completed.",
            ),
            (
                Session.Status.CANCELLED,
                services.session_mark_no_show,
                "A cancelled session cannot be marked no-show.",
            ),
            (
                Session.Status.CANCELLED,
                services.session_cancel,
                "A cancelled session cannot be marked cancelled.",
            ),
            (
                Session.Status.COMPLETED,
                services.session_cancel,
                "A completed session cannot be marked cancelled.",
            ),
            (
                Session.Status.NO_SHOW,
                services.session_cancel,
                "A no-show session cannot be marked cancelled.",
            ),
        ],
    )
    def test_impossible_transitions_are_refused(self, client_obj, start, service, message):
        session = SessionFactory(client=client_obj, status=start)
        with pytest.raises(ValidationError) as exc:
            service(session=session)
        assert exc.value.messages == [message]
        session.refresh_from_db()
        assert session.status == start

    def test_only_a_scheduled_session_can_be_confirmed(self, client_obj):
        session = SessionFactory(client=client_obj, status=Session.Status.CANCELLED)
        with pytest.raises(ValidationError, match="Only a scheduled session"):
            services.session_confirm(session=session)


@pytest.mark.django_db
def test_a_sessions_name_is_in_utc_whoever_asks():
    session = SessionFactory(
        client=ClientFactory(first_name="Lucía", last_name="Ortega", timezone="Europe/Madrid"),
        starts_at=datetime(2026, 12, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo("UTC")),
    )
    with timezone.override("America/New_York"):
        assert str(session) == "Lucía Ortega — 2026-12-01 10:00 UTC"
        assert session.__html__() == "Lucía Ortega — Tue 01 Dec 2026 05:00 EST (Madrid 11:00)"
