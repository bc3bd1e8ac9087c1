"""How many SMS segments a text costs, and which characters push it out of GSM-7.

A text of GSM-7 characters fits 160 per single message, 153 per part when
split; one character outside GSM-7 turns the whole text into UCS-2: 70 per
single message, 67 per part. Characters of the GSM-7 extension table
(``{ } [ ] ~ \\ | ^ €`` and form feed) take two septets each.
"""

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class SmsCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2, in order of appearance

    @property
    def per_segment(self) -> int:
        if self.segments <= 1:
            return 160 if self.encoding == "GSM-7" else 70
        return 153 if self.encoding == "GSM-7" else 67


def sms_count(text: str) -> SmsCount:
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION))
    if not non_gsm:
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = -(-units // part)
    return SmsCount(encoding=encoding, units=units, segments=segments, non_gsm=non_gsm)
