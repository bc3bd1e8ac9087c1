"""Amounts as people read them: "£45.00", or "45.00 CHF" for a currency without a symbol here."""

from decimal import Decimal

_CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$"}


def format_amount(amount: Decimal, currency: str) -> str:
    symbol = _CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"
