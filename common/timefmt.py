"""How a moment is written for people: staff in their own zone, clients in theirs.

Staff pages run in the viewer's zone (Django's current time zone, activated per
request); when a client lives elsewhere the client's wall clock is added where it
matters: "Tue 01 Dec 2026 05:00 EST (Madrid 11:00)". Client-facing text is in the
client's zone and names it only when its wall clock differs from the studio's:
"11:00 CET". Two zones count as different when their clocks differ at that moment
(Lisbon and London agree, so a Lisbon client reads "10:00", not "10:00 WET").
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from common.clock import studio_tz

DATETIME = "%a %d %b %Y %H:%M"


def place(tz: ZoneInfo) -> str:
    """The city part of an IANA name: "Madrid", "New York"."""
    return tz.key.rsplit("/", 1)[-1].replace("_", " ")


def same_clock(moment: datetime, a: ZoneInfo, b: ZoneInfo) -> bool:
    return moment.astimezone(a).utcoffset() == moment.astimezone(b).utcoffset()


def _elsewhere(moment: datetime, tz: ZoneInfo | None, viewer: ZoneInfo) -> str:
    if tz is None or same_clock(moment, tz, viewer):
        return ""
    theirs, mine = moment.astimezone(tz), moment.astimezone(viewer)
    shown = f"{theirs:%H:%M}" if theirs.date() == mine.date() else f"{theirs:%a %d %b %H:%M}"
    return f" ({place(tz)} {shown})"


def staff_datetime(moment: datetime, client_tz: ZoneInfo | None = None) -> str:
    """For staff: the viewer's date and time with its zone, and the client's when it differs."""
    viewer = timezone.get_current_timezone()
    local = moment.astimezone(viewer)
    return f"{local:{DATETIME}} {local:%Z}{_elsewhere(moment, client_tz, viewer)}"


def staff_span(start: datetime, end: datetime, client_tz: ZoneInfo | None = None) -> str:
    """For staff: "Mon 11 Jan 2027 08:30–09:30 GMT (Madrid 09:30–10:30)"."""
    viewer = timezone.get_current_timezone()
    a, b = start.astimezone(viewer), end.astimezone(viewer)
    text = f"{a:{DATETIME}}–{b:%H:%M} {a:%Z}"
    if client_tz is not None and not same_clock(start, client_tz, viewer):
        ca, cb = start.astimezone(client_tz), end.astimezone(client_tz)
        day = "" if ca.date() == a.date() else f"{ca:%a %d %b} "
        text += f" ({place(client_tz)} {day}{ca:%H:%M}–{cb:%H:%M})"
    return text


def staff_time(moment: datetime, client_tz: ZoneInfo | None = None) -> str:
    """For staff: "10:00 (Madrid 11:00)" — the viewer's time, and the client's when it differs."""
    viewer = timezone.get_current_timezone()
    return f"{moment.astimezone(viewer):%H:%M}{_elsewhere(moment, client_tz, viewer)}"


def staff_time_span(start: datetime, end: datetime, client_tz: ZoneInfo | None = None) -> str:
    """For staff, when the day is already said: "10:00–10:45 (Sydney 21:00–21:45)"."""
    viewer = timezone.get_current_timezone()
    text = f"{start.astimezone(viewer):%H:%M}–{end.astimezone(viewer):%H:%M}"
    if client_tz is not None and not same_clock(start, client_tz, viewer):
        ca, cb = start.astimezone(client_tz), end.astimezone(client_tz)
        day = "" if ca.date() == start.astimezone(viewer).date() else f"{ca:%a %d %b} "
        text += f" ({place(client_tz)} {day}{ca:%H:%M}–{cb:%H:%M})"
    return text


def client_time(moment: datetime, tz: ZoneInfo) -> str:
    """For a client: "11:00", or "11:00 CET" when their clock differs from the studio's."""
    local = moment.astimezone(tz)
    if same_clock(moment, tz, studio_tz()):
        return f"{local:%H:%M}"
    return f"{local:%H:%M %Z}"


def utc_stamp(moment: datetime) -> str:
    """Zone-free, for logs and stored names: "2026-12-01 10:00 UTC"."""
    return f"{moment.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC"
