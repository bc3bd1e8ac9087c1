import pytest

from common.ids import MAX_PK, parse_pk


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", 7),
        (" 7 ", 7),
        (7, 7),
        (str(MAX_PK), MAX_PK),
        (str(MAX_PK + 1), None),
        ("0", None),
        ("-3", None),
        ("+7", None),
        ("7_0", None),
        ("²", None),
        ("٣", None),
        ("7.0", None),
        ("", None),
        (None, None),
        (True, None),
        ("9" * 400, None),
    ],
)
def test_parse_pk_accepts_only_plain_positive_ids(raw, expected):
    assert parse_pk(raw) == expected
