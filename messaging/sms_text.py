"""SMS text: GSM-7 detection, segment counting and look-alike replacements.

One character outside GSM-7 switches the whole message to UCS-2, which carries
70 characters per segment instead of 160 — double the cost or more.
"""

from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table cost two septets each.
GSM7_EXTENDED = set("^{}\\[~]|€\f")

# Characters that word processors and phones slip in, forcing UCS-2 for no
# visible gain; each has a GSM-7 look-alike.
REPLACEMENTS = {
    "\u00a0": " ",  # no-break space
    "\u2007": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00b7": ".",
    "\t": " ",
}


@dataclass(frozen=True)
class SmsInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    length: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    non_gsm: tuple[str, ...] = ()  # the characters that force UCS-2, in order of appearance

    @property
    def is_gsm7(self) -> bool:
        return self.encoding == "GSM-7"

    @property
    def per_segment(self) -> int:
        if self.segments <= 1:
            return 160 if self.is_gsm7 else 70
        return 153 if self.is_gsm7 else 67


def normalize_sms_text(text: str) -> str:
    """Replace look-alikes that would force UCS-2; leaves real non-GSM text (emoji, accents) alone."""
    return "".join(REPLACEMENTS.get(ch, ch) for ch in text)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def sms_info(text: str) -> SmsInfo:
    if is_gsm7(text):
        length = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = (1 if length else 0) if length <= single else -(-length // multi)
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENDED))
    return SmsInfo(encoding=encoding, length=length, segments=segments, non_gsm=non_gsm)


def sms_count(text: str) -> SmsInfo:
    """The count of ``text`` as it will go out: ``send_message`` first swaps typographic
    look-alikes (curly quotes, dashes) for GSM-7 ones, so only characters that survive
    the swap count as non-GSM-7 (the compose form's counter)."""
    return sms_info(normalize_sms_text(text))
