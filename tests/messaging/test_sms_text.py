from datetime import UTC, datetime

import pytest
import time_machine

from messaging.delivery import deliver_due
from messaging.services import send_message
from messaging.sms_text import normalize_sms_text, sms_info


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 2),
        ("Hi 👋", "UCS-2", 1),
        ("ç" + "a" * 69, "UCS-2", 1),  # ç is not in GSM-7 (Ç is)
        ("ş" + "a" * 70, "UCS-2", 2),
    ],
)
def test_encoding_and_segments(text, encoding, segments):
    info = sms_info(text)
    assert (info.encoding, info.segments) == (encoding, segments)


def test_lookalikes_that_force_ucs2_are_replaced():
    text = "See\u00a0you at 9 \u2014 it\u2019s \u201cleg day\u201d\u2026"
    assert not sms_info(text).is_gsm7
    cleaned = normalize_sms_text(text)
    assert cleaned == 'See you at 9 - it\'s "leg day"...'
    assert sms_info(cleaned).is_gsm7


@pytest.mark.django_db
def test_sms_bodies_are_cleaned_when_queued(client_obj):
    message = send_message(client=client_obj, channel="sms", body="Tomorrow\u00a09:00")
    assert message.body == "Tomorrow 9:00"


@pytest.mark.django_db
def test_a_non_gsm_sms_is_logged_as_costing_more(client_obj, twilio_http, caplog):
    with time_machine.travel(datetime(2026, 3, 10, 12, tzinfo=UTC), tick=False):
        send_message(client=client_obj, channel="sms", body="Great session 💪")
        deliver_due(limit=10)
    assert "not GSM-7" in caplog.text
