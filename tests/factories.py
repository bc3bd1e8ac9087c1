"""Shared factories. Rows are built through the ORM; services are exercised by the tests."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from billing.charges import studio_policy
from billing.models import PackageType, Payment
from clients.models import Client, Tag
from clients.roles import STUDIO_MANAGER, TRAINER
from scheduling.models import Session, SessionType


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@studio.example")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class TrainerFactory(UserFactory):
    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create:
            obj.groups.add(Group.objects.get_or_create(name=TRAINER)[0])


class ManagerFactory(UserFactory):
    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create:
            obj.groups.add(Group.objects.get_or_create(name=STUDIO_MANAGER)[0])


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    # 07700 900xxx is reserved for drama and fails validation; 07700 1xxxxx is a valid mobile range.
    phone = factory.Sequence(lambda n: f"+4477001{n % 100000:05d}")
    trainer = factory.SubFactory(TrainerFactory)
    status = Client.Status.ACTIVE


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    client = factory.SubFactory(ClientFactory)
    trainer = factory.LazyAttribute(lambda s: s.client.trainer)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    duration_minutes = 60
    location = "Studio A"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    client = factory.SubFactory(ClientFactory)
    amount = Decimal("45.00")
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=7))
    description = "Training package"


class PackageTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PackageType

    name = factory.Sequence(lambda n: f"{n + 5} sessions")
    sessions = 5
    price = Decimal("200.00")
    validity_days = 90


def sell_package(client, *, sessions=5, bought_on=None, **type_fields):
    """A package sold to ``client`` through the service (its payment and purchase row)."""
    from billing.credits import package_sell  # a service: factories build rows, tests call services

    package_type = PackageTypeFactory(sessions=sessions, **type_fields)
    return package_sell(client=client, package_type=package_type, bought_on=bought_on)


class SessionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionType

    name = factory.Sequence(lambda n: f"Personal training {n}")
    duration_minutes = 60
    price = Decimal("45.00")


def set_policy(**fields):
    """The studio's no-show and late-cancel policy with ``fields`` changed (saved)."""
    policy = studio_policy()
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    return policy
