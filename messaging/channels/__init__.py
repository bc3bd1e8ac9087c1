"""Channel registry: the stable short key stored on Message.channel → the class that sends it."""

from messaging.channels.base import BaseChannel, DeliveryError, SendResult
from messaging.channels.email import EmailChannel
from messaging.channels.in_app import InAppChannel
from messaging.channels.sms import SmsChannel

CHANNELS: dict[str, type[BaseChannel]] = {
    EmailChannel.name: EmailChannel,
    SmsChannel.name: SmsChannel,
    InAppChannel.name: InAppChannel,
}


def get_channel(name: str) -> BaseChannel:
    try:
        return CHANNELS[name]()
    except KeyError:
        raise DeliveryError(f"unknown channel {name!r}", permanent=True) from None


__all__ = ["CHANNELS", "BaseChannel", "DeliveryError", "SendResult", "get_channel"]
