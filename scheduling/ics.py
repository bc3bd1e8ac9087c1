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

from datetime import UTC, datetime, timedelta
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
    if len(line) <= 75 and (line.isascii() or len(line.encode()) <= 75):
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
    # isoformat is C and fast; strftime was the slowest step of a 5,000-session feed.
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat()[:19].replace("-", "").replace(":", "") + "Z"


def _uid_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "fitcrm"


def session_uid(session_id: int, host: str | None = None) -> str:
    return f"fitcrm-session-{session_id}@{host or _uid_host()}"


def _sequence(sequence: int, status: str) -> int:
    return sequence + (1 if status == CANCELLED else 0)


def session_sequence(session: Session) -> int:
    return _sequence(session.sequence, session.status)


def _organizer() -> str:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return f"ORGANIZER;CN={_param(name or settings.STUDIO_NAME)}:mailto:{address}"


CANCELLED = Session.Status.CANCELLED.value
STATUS_LABELS = dict(Session.Status.choices)


def _vevent(
    *,
    uid: str,
    sequence: int,
    status: str,
    starts_at: datetime,
    minutes: int,
    summary: str,
    location: str,
    description: str,
    stamp: str,
    modified: datetime | None,
    people=(),
) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SEQUENCE:{_sequence(sequence, status)}",
        f"DTSTAMP:{stamp}",
        f"DTSTART:{_utc(starts_at)}",
        f"DTEND:{_utc(starts_at + timedelta(minutes=minutes))}",
        _fold(f"SUMMARY:{_escape(summary)}"),
        f"STATUS:{'CANCELLED' if status == CANCELLED else 'CONFIRMED'}",
    ]
    if location:
        lines.append(_fold(f"LOCATION:{_escape(location)}"))
    if description:
        lines.append(_fold(f"DESCRIPTION:{_escape(description)}"))
    if modified:
        lines.append(f"LAST-MODIFIED:{_utc(modified)}")
    lines += [_fold(line) for line in people]
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
    # Only free text can pass 75 octets: those lines were folded where they were made.
    return "\r\n".join([*(_fold(line) for line in head), *events, "END:VCALENDAR"]) + "\r\n"


#: What the feed reads per session (``values_list``: no model instances for 5,000 rows).
FEED_FIELDS = (
    "pk",
    "starts_at",
    "duration_minutes",
    "location",
    "status",
    "sequence",
    "notes",
    "client__first_name",
    "client__last_name",
)


def trainer_feed(*, trainer, rows, now: datetime) -> str:
    """The trainer's subscription calendar from ``FEED_FIELDS`` rows."""
    name = f"{settings.STUDIO_NAME} — {trainer.get_full_name() or trainer.get_username()}"
    host, stamp = _uid_host(), _utc(now)
    events = []
    for pk, starts_at, minutes, location, status, sequence, notes, first, last in rows:
        summary = f"{first} {last}".strip()
        if status == Session.Status.NO_SHOW:
            summary += " (no-show)"
        events += _vevent(
            uid=session_uid(pk, host),
            sequence=sequence,
            status=status,
            starts_at=starts_at,
            minutes=minutes,
            summary=summary,
            location=location,
            description=f"{STATUS_LABELS.get(status, status)}. {notes}".strip(),
            stamp=stamp,
            modified=None,
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
    people = []
    if method != PUBLISH and session.client.email:
        client = session.client
        people = [
            _organizer(),
            f"ATTENDEE;CN={_param(client.full_name)};ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
            f"RSVP=FALSE:mailto:{client.email}",
        ]
    event = _vevent(
        uid=session_uid(session.pk),
        sequence=session.sequence,
        status=session.status,
        starts_at=session.starts_at,
        minutes=session.duration_minutes,
        summary=client_event_summary(session),
        location=session.location,
        description="",
        stamp=_utc(now),
        modified=session.updated_at,
        people=people,
    )
    return _calendar(method, event)


def invitation_method(session: Session) -> str:
    return CANCEL if session.status == Session.Status.CANCELLED else REQUEST


def invitation_content_type(session: Session) -> str:
    # The method parameter is what makes mail clients offer the event as an invitation.
    return f"{CONTENT_TYPE}; method={invitation_method(session)}"


def invitation_filename(session: Session) -> str:
    return f"session-{session.pk}.ics"
