"""What scheduling tells the layers built on it.

Billing spends and returns credits and applies the no-show and late-cancel policy
when a session's status changes; scheduling does not know what a session costs.
Messaging offers a freed time — a cancelled session's, or the one a moved session
left — to clients on the waitlist, and marks offers of a time taken once a session
holds it (``messaging.waitlist``).

Each is sent inside the transaction that makes the change, with the session row
locked, so a receiver's writes commit or roll back with the change itself, and
anything a receiver queues for later waits for the commit (``transaction.on_commit``).
"""

from django.dispatch import Signal

#: A session's status changed.
#: Arguments: sender=Session, session, old_status, new_status.
session_status_changed = Signal()

#: A scheduled session left its time: a new start, length or trainer (the portal's
#: reschedule, the calendar, the admin's change form, a series moved). The old time is
#: free now, as after a cancellation.
#: Arguments: sender=Session, session (as it is now), old_starts_at, old_duration_minutes,
#: old_trainer_id.
session_moved = Signal()

#: A scheduled session now holds its time: just booked (``created``), or moved there.
#: ``waitlist_request_ids``: the trainer's waitlist requests whose window reaches that day
#: (any status). Almost always empty — then no receiver need look for offers of the time;
#: scheduling learns it from the query that locks the trainer's diary, at no extra cost.
#: Arguments: sender=Session, session, created, waitlist_request_ids.
session_time_taken = Signal()
