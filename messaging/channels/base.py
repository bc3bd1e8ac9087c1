"""What every channel shares: the result of a send, the error it may raise, and how an
HTTP failure is judged."""

from dataclasses import dataclass

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError


class DeliveryError(Exception):
    """A send that did not go out, or that may have.

    ``permanent`` errors (invalid number, recipient rejected) fail the message at
    once; the others (timeouts, 429, 5xx) are retried with backoff.
    ``outcome_unknown``: the request reached the provider but no answer came back, so
    it may have been sent; the message fails without a retry (staff check, then
    "retry now"), as when a worker dies mid-call.
    ``refused_recipient``: why the provider will never deliver to this recipient
    again (an ESP's inactive/suppressed address, an SMS STOP); the engine records it
    on the client as a bounce or an opt-out.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        code: str = "",
        outcome_unknown: bool = False,
        refused_recipient: str = "",
    ):
        super().__init__(message)
        self.permanent = permanent or outcome_unknown or bool(refused_recipient)
        self.code = str(code or "")
        self.outcome_unknown = outcome_unknown
        self.refused_recipient = refused_recipient


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


# HTTP statuses a provider answers without having taken the message: try again later.
RETRY_LATER_HTTP = {408, 425, 429, 503}
# A gateway gave up waiting for the provider, which may still have sent it.
GATEWAY_TIMEOUT = 504
# urllib3's reasons for giving up before a byte of the request was sent.
_NEVER_CONNECTED = (NewConnectionError, ConnectTimeoutError, Urllib3ProxyError, Urllib3SSLError)
_NEVER_SENT = (
    requests.ConnectTimeout,
    requests.exceptions.SSLError,
    requests.exceptions.ProxyError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)


def request_never_sent(exc: requests.RequestException) -> bool:
    """Whether a failed HTTP call surely never reached the provider, so that sending
    again cannot double the message.

    True for a refused connection, a failed DNS lookup, a connect timeout, a TLS or
    proxy failure. False for a read timeout or a connection dropped after the request
    went out ("Connection aborted"), and for anything unrecognised: the provider may
    have acted on it.
    """
    if isinstance(exc, _NEVER_SENT):
        return True
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        return isinstance(cause, MaxRetryError) and isinstance(cause.reason, _NEVER_CONNECTED)
    return False


def http_failure(exc: requests.RequestException, *, provider: str) -> DeliveryError:
    """A DeliveryError for an HTTP call to ``provider`` that got no response."""
    if request_never_sent(exc):
        return DeliveryError(f"{provider} not reached: {exc}")
    return DeliveryError(
        f"no answer from {provider} after the request was sent ({type(exc).__name__}: {exc})",
        outcome_unknown=True,
    )
