import pytest

from tests.factories import ClientFactory, PaymentFactory, SessionFactory


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/clients/client/",
        "/admin/clients/client/add/",
        "/admin/scheduling/session/",
        "/admin/scheduling/session/add/",
        "/admin/scheduling/session/book-series/",
        "/admin/billing/payment/",
        "/admin/billing/payment/add/",
    ],
)
def test_admin_pages_render_for_a_trainer(trainer_client, trainer, url):
    client = ClientFactory(trainer=trainer)
    SessionFactory(client=client)
    PaymentFactory(client=client)
    response = trainer_client.get(url)
    assert response.status_code == 200


def test_trainer_cannot_open_another_trainers_client(trainer_client, other_trainer):
    foreign = ClientFactory(trainer=other_trainer)
    response = trainer_client.get(f"/admin/clients/client/{foreign.pk}/change/")
    assert response.status_code in (302, 404)
    assert foreign.first_name not in response.content.decode()
