"""What every channel shares: the result of a send and the error it may raise."""

from dataclasses import dataclass


class DeliveryError(Exception):
    """A send that did not go out.

    ``permanent`` errors (invalid number, recipient rejected) fail the message at
    once; the others (timeouts, 429, 5xx) are retried with backoff.
    """

    def __init__(self, message: str, *, permanent: bool = False, code: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.code = str(code or "")


@dataclass
class SendResult:
    provider_id: str = ""
    #: The status the message reaches on success: ``sent`` when a provider takes
    #: it from here, ``delivered`` when there is no one else to deliver it.
    status: str = "sent"
    #: The sender address or number the provider used.
    from_address: str = ""


class BaseChannel:
    """One way of reaching a client. Instances live for one batch, so they may keep
    a connection open between messages."""

    name = ""

    def open(self):
        """Called once before a batch."""

    def close(self):
        """Called once after a batch, even when it failed."""

    def address_for(self, client) -> str:
        """The address this channel would use for ``client`` right now."""
        return ""

    def send(self, message) -> SendResult:
        raise NotImplementedError
