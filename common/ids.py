"""Ids that arrive from outside (query strings, form posts, CSV files, tokens)."""

# PostgreSQL's bigint: an id past it can only be crafted, and int() of it would
# overflow the query parameter.
MAX_PK = 2**63 - 1


def parse_pk(value) -> int | None:
    """A positive database id from untrusted text, or ``None``.

    Only ASCII digits count: ``str.isdigit()`` also accepts "²" and other digits
    ``int()`` refuses, and ``int()`` itself accepts " 7", "+7" and "7_0".
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not (text.isascii() and text.isdigit()) or len(text) > 19:
            return None
        number = int(text)
    return number if 0 < number <= MAX_PK else None
