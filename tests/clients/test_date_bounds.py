from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from billing.services import payment_create
from clients.services import client_save
from tests.factories import ClientFactory

TODAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.mark.django_db
@pytest.mark.parametrize(
    "birth_date", [date(9999, 12, 31), date(2026, 12, 1), date(1899, 12, 31), date(1, 1, 1)]
)
def test_a_birth_date_outside_a_life_is_refused(birth_date):
    client = ClientFactory.build(trainer=ClientFactory().trainer, birth_date=birth_date)
    with pytest.raises(ValidationError) as exc:
        client.full_clean()
    assert "birth_date" in exc.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("birth_date", [date(1900, 1, 1), date(1990, 2, 28), date(2026, 11, 30)])
def test_real_birth_dates_are_accepted(birth_date):
    client = ClientFactory(birth_date=None)
    client.birth_date = birth_date
    client_save(client=client)
    client.refresh_from_db()
    assert client.birth_date == birth_date


@pytest.mark.django_db
@pytest.mark.parametrize(
    "due_date", [date(1, 1, 1), date(1999, 12, 31), date(2036, 12, 2), date(9999, 12, 31)]
)
def test_a_due_date_outside_a_sane_window_is_refused(due_date):
    with pytest.raises(ValidationError) as exc:
        payment_create(client=ClientFactory(), amount=Decimal("45.00"), due_date=due_date)
    assert "due_date" in exc.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("due_date", [date(2000, 1, 1), date(2026, 12, 15), date(2036, 11, 1)])
def test_due_dates_in_the_window_are_accepted(due_date):
    payment = payment_create(client=ClientFactory(), amount=Decimal("45.00"), due_date=due_date)
    assert payment.pk
