"""The compose form's SMS counter, on top of ``messaging.sms_text``.

It counts the text as it will go out: ``send_message`` swaps typographic
look-alikes (curly quotes, dashes) for GSM-7 ones first, so only characters
that survive that swap trigger the non-GSM-7 warning.
"""

from dataclasses import dataclass

from messaging.sms_text import GSM7_BASIC, GSM7_EXTENDED, normalize_sms_text, sms_info


@dataclass(frozen=True)
class SmsCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    non_gsm: tuple[str, ...]  # the characters that force UCS-2, in order of appearance

    @property
    def per_segment(self) -> int:
        if self.segments <= 1:
            return 160 if self.encoding == "GSM-7" else 70
        return 153 if self.encoding == "GSM-7" else 67


def sms_count(text: str) -> SmsCount:
    text = normalize_sms_text(text)
    info = sms_info(text)
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENDED))
    return SmsCount(encoding=info.encoding, units=info.length, segments=info.segments, non_gsm=non_gsm)
