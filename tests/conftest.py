import os

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

from tests.factories import ClientFactory, ManagerFactory, TrainerFactory

# The browser tests' fixture (Debian's Chromium through Playwright).
pytest_plugins = ["tests.support.browser"]

# The property tests run a fixed sample by default, so a CI run is repeatable and a
# busy machine cannot make it fail where a quiet one passed; HYPOTHESIS_PROFILE=explore
# draws new examples each run (and keeps none on disk either way).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
hypothesis_settings.register_profile("explore", database=None, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """Pages render without ``collectstatic``, even when the environment says DEBUG=false
    (which picks the hashed, compressed storage): the gunicorn smoke test (deploy/smoke.sh)
    covers that storage."""
    from django.conf import settings

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_AUTOREFRESH = True


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip loudly (with a reason in the summary) on SQLite."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... to run it")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def trainer(db):
    return TrainerFactory(username="trainer_a")


@pytest.fixture
def other_trainer(db):
    return TrainerFactory(username="trainer_b")


@pytest.fixture
def manager(db):
    return ManagerFactory(username="manager")


@pytest.fixture
def client_obj(trainer):
    return ClientFactory(trainer=trainer)


@pytest.fixture
def trainer_client(client, trainer):
    """Django's test client logged in as a trainer."""
    client.force_login(trainer)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def q_sync(monkeypatch):
    """Run django-q2 tasks inline when they are enqueued (``async_task``)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness costs a fraction of a second per user created."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
