"""One message where one is meant: occurrences of one rule for one client, sent together.

A weekly series booked at once is one occurrence per session (each keeps its own
once-only key in the log) but one confirmation listing the dates. A rule with
``merge_minutes`` does the same for any occurrences of it for one client that the
engine handles together: the event handler gathers the client's sessions booked within
that many minutes, the scan whatever fell due in the same run. Nothing is dropped:
every occurrence keeps its own log row, all pointing at the one message, each noting
how many it covered.
"""

from common.money import format_amount
from common.timefmt import client_time


def merge_key(occ, client) -> tuple | None:
    """Occurrences with the same key (not ``None``) go as one message."""
    if occ.rule.merge_minutes:
        return (occ.rule.pk, client.pk)
    if occ.group:
        return (occ.rule.pk, client.pk, occ.group)
    return None


def _line(session, payment, client) -> str:
    tz = client.tzinfo
    if session is not None:
        text = f"{session.starts_at.astimezone(tz):%a %d %b %Y}, {client_time(session.starts_at, tz)}"
        return f"- {text}" + (f" ({session.location})" if session.location else "")
    if payment is not None:
        # What is still owed, as the portal and amount_owed say it (a payment may be part paid).
        text = f"- {format_amount(payment.balance, payment.currency)} due {payment.due_date:%d %b %Y}"
        if payment.amount_paid and payment.balance:
            paid = format_amount(payment.amount_paid, payment.currency)
            text += f" ({paid} of {format_amount(payment.amount, payment.currency)} paid so far)"
        return text
    return ""


def listing(members, client) -> str:
    """The dates (or payments) a merged message covers, one per line, to add to its body."""
    lines = [line for line in (_line(session, payment, client) for session, payment in members) if line]
    if not lines:
        return ""
    what = "sessions" if members[0][0] is not None else "payments"
    return f"All {len(lines)} {what}:\n" + "\n".join(lines)


def note(count: int, members) -> str:
    what = "sessions" if members[0][0] is not None else "occurrences"
    return f"one message for {count} {what}"
