"""System checks for the Stripe settings (common/checks.py)."""

import pytest

from common.checks import check_stripe_keys


def ids(settings):
    return [problem.id for problem in check_stripe_keys()]


@pytest.mark.parametrize(
    ("secret_key", "webhook_secret", "expected"),
    [
        ("", "", []),
        ("sk_test_abc", "whsec_abc", []),
        ("rk_live_abc", "whsec_abc", []),
        ("sk_test_abc", "", ["fitcrm.W020"]),
        ("", "whsec_abc", ["fitcrm.W020"]),
        ("pk_test_abc", "whsec_abc", ["fitcrm.E020"]),
        ("sk_test_abc", "abc", ["fitcrm.W021"]),
    ],
)
def test_stripe_settings_are_checked_at_start_up(settings, secret_key, webhook_secret, expected):
    settings.STRIPE_SECRET_KEY = secret_key
    settings.STRIPE_WEBHOOK_SECRET = webhook_secret
    assert ids(settings) == expected


def test_half_a_configuration_says_what_is_missing(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_abc"
    settings.STRIPE_WEBHOOK_SECRET = ""
    (warning,) = check_stripe_keys()
    assert warning.msg == (
        "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: no pay links are offered until both are."
    )
