# Times on a 24-hour clock everywhere, in the same words as common.timefmt
# ("Tue 01 Dec 2026 13:30"), so the admin's own columns and our messages agree.
# Input formats stay Django's.
DATETIME_FORMAT = "D d M Y H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
TIME_FORMAT = "H:i"
