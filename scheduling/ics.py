"""iCalendar (RFC 5545) for sessions: a trainer's subscription feed and a client's invitation.

One ``VEVENT`` per session wherever it appears — the feed, the .ics attached to
a booking, move or cancellation email, the portal's "add to calendar" — with:

* ``UID`` fixed for the session's life, so calendars update the event they have
  instead of adding a second one;
* ``SEQUENCE`` = the session's ``sequence`` (it grows each time its time
  changes), plus one once cancelled: a cancellation is the newest version;
* times in UTC, so daylight-saving changes cannot shift them; the reader's
  calendar shows them in its own zone.

The text is written here rather than through ``icalendar``'s object model: a
feed of 5,000 sessions takes about 0.6 s that way and a few milliseconds this
way. The tests parse everything back with ``icalendar``.
"""

from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings

from scheduling.models import Session

PRODID = "-//FitCRM//Sessions//EN"
REQUEST, CANCEL, PUBLISH = "REQUEST", "CANCEL", "PUBLISH"
CONTENT_TYPE = "text/calendar"


def _escape(text: str) -> str:
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _param(text: str) -> str:
    # Parameter values may not hold DQUOTE or control characters; quoted, they may hold ":;,".
    cleaned = "".join(ch for ch in str(text) if ch >= " " and ch != '"')
    return f'"{cleaned}"'


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after one space (never
    inside a UTF-8 character)."""
    if len(line) <= 75 and line.isascii():
        return line
    parts, current, size = [], [], 0
    for ch in line:
        width = len(ch.encode())
        if size + width > 75:
            parts.append("".join(current))
            current, size = [" "], 1
        current.append(ch)
        size += width
    parts.append("".join(current))
    return "\r\n".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def session_uid(session_id: int) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "fitcrm"
    return f"fitcrm-session-{session_id}@{host}"


def session_sequence(session: Session) -> int:
    return session.sequence + (1 if session.status == Session.Status.CANCELLED else 0)


def _status(session: Session) -> str:
    return "CANCELLED" if session.status == Session.Status.CANCELLED else "CONFIRMED"


def _organizer() -> str:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return f"ORGANIZER;CN={_param(name or settings.STUDIO_NAME)}:mailto:{address}"


def _event(session: Session, *, summary: str, description: str, stamp: datetime, attendee: bool = False):
    lines = [
        "BEGIN:VEVENT",
        f"UID:{session_uid(session.pk)}",
        f"SEQUENCE:{session_sequence(session)}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(session.starts_at)}",
        f"DTEND:{_utc(session.ends_at)}",
        f"SUMMARY:{_escape(summary)}",
        f"STATUS:{_status(session)}",
    ]
    if session.location:
        lines.append(f"LOCATION:{_escape(session.location)}")
    if description:
        lines.append(f"DESCRIPTION:{_escape(description)}")
    if session.updated_at:
        lines.append(f"LAST-MODIFIED:{_utc(session.updated_at)}")
    if attendee:
        client = session.client
        lines.append(_organizer())
        lines.append(
            f"ATTENDEE;CN={_param(client.full_name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
            f"RSVP=FALSE:mailto:{client.email}"
        )
    lines.append("END:VEVENT")
    return lines


def _calendar(method: str, events: list[str], *, name: str = "") -> str:
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", f"METHOD:{method}"]
    if name:
        head += [
            f"X-WR-CALNAME:{_escape(name)}",
            "X-PUBLISHED-TTL:PT1H",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        ]
    return "\r\n".join(_fold(line) for line in [*head, *events, "END:VCALENDAR"]) + "\r\n"


def _trainer_summary(session: Session) -> str:
    summary = session.client.full_name
    if session.status == Session.Status.NO_SHOW:
        summary += " (no-show)"
    return summary


def trainer_feed(*, trainer, sessions, now: datetime) -> str:
    """The trainer's subscription calendar (``sessions`` with their clients loaded)."""
    name = f"{settings.STUDIO_NAME} — {trainer.get_full_name() or trainer.get_username()}"
    events = []
    for session in sessions:
        events += _event(
            session,
            summary=_trainer_summary(session),
            description=f"{session.get_status_display()}. {session.notes}".strip(),
            stamp=now,
        )
    return _calendar(PUBLISH, events, name=name)


def client_event_summary(session: Session) -> str:
    trainer = session.trainer.get_full_name() or session.trainer.get_username()
    return f"Training with {trainer} — {settings.STUDIO_NAME}"


def client_invitation(*, session: Session, now: datetime, method: str | None = None) -> str:
    """The .ics a client gets: ``REQUEST`` while the session stands, ``CANCEL`` once cancelled.

    ``method=PUBLISH`` is the portal's "add to calendar" download: the same event,
    imported rather than answered as an invitation.
    """
    method = method or invitation_method(session)
    event = _event(
        session,
        summary=client_event_summary(session),
        description="",
        stamp=now,
        attendee=method != PUBLISH and bool(session.client.email),
    )
    return _calendar(method, event)


def invitation_method(session: Session) -> str:
    return CANCEL if session.status == Session.Status.CANCELLED else REQUEST


def invitation_content_type(session: Session) -> str:
    # The method parameter is what makes mail clients offer the event as an invitation.
    return f"{CONTENT_TYPE}; method={invitation_method(session)}"


def invitation_filename(session: Session) -> str:
    return f"session-{session.pk}.ics"
