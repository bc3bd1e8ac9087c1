"""What scheduling tells the layers built on it.

Billing spends and returns credits and applies the no-show and late-cancel policy
when a session's status changes; scheduling does not know what a session costs.
Messaging offers a cancelled session's time to clients on the waitlist
(``messaging.waitlist``).
"""

from django.dispatch import Signal

#: Sent inside the transaction that changes the status, with the session row locked,
#: so a receiver's writes commit or roll back with the change itself.
#: Arguments: sender=Session, session, old_status, new_status.
session_status_changed = Signal()
