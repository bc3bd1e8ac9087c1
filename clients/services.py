"""Writes that concern a client: contact preferences and portal access."""

from django.db import transaction
from django.utils import timezone

from clients.models import Category, Channel, Client, ConsentChange, StaffProfile, new_portal_secret

PREFERENCE_FIELDS = {
    (Channel.EMAIL, Category.TRANSACTIONAL): "email_reminders",
    (Channel.EMAIL, Category.MARKETING): "email_marketing",
    (Channel.SMS, Category.TRANSACTIONAL): "sms_reminders",
    (Channel.SMS, Category.MARKETING): "sms_marketing",
}


def _record(client, *, channel, category="", granted, source, detail=""):
    ConsentChange.objects.create(
        client=client,
        channel=channel,
        category=category,
        granted=granted,
        source=source,
        detail=detail[:200],
    )


@transaction.atomic
def client_set_preference(
    *, client: Client, channel: str, category: str, granted: bool, source: str, detail: str = ""
) -> Client:
    """Turn one channel/category on or off, with an audit record.

    Turning a category back on also lifts a blanket email unsubscribe, because
    the client has just asked to hear from us again on that channel.
    """
    field = PREFERENCE_FIELDS[(channel, category)]
    updates = {field: granted}
    if granted and channel == Channel.EMAIL:
        updates["email_unsubscribed_at"] = None
    # .update(): bookkeeping must not fire save signals.
    Client.objects.filter(pk=client.pk).update(**updates, updated_at=timezone.now())
    for name, value in updates.items():
        setattr(client, name, value)
    _record(client, channel=channel, category=category, granted=granted, source=source, detail=detail)
    return client


def _opt_out(client: Client, *, field: str, channel: str, source: str, detail: str) -> Client:
    # The first opt-out's time stands; a repeat is recorded in the history only.
    now = timezone.now()
    Client.objects.filter(pk=client.pk, **{f"{field}__isnull": True}).update(**{field: now}, updated_at=now)
    setattr(client, field, getattr(client, field) or now)
    _record(client, channel=channel, granted=False, source=source, detail=detail)
    return client


@transaction.atomic
def client_sms_opt_out(*, client: Client, source: str, detail: str = "") -> Client:
    return _opt_out(client, field="sms_opted_out_at", channel=Channel.SMS, source=source, detail=detail)


@transaction.atomic
def client_sms_opt_in(*, client: Client, source: str, detail: str = "") -> Client:
    Client.objects.filter(pk=client.pk).update(sms_opted_out_at=None, updated_at=timezone.now())
    client.sms_opted_out_at = None
    _record(client, channel=Channel.SMS, granted=True, source=source, detail=detail)
    return client


@transaction.atomic
def client_email_unsubscribe(*, client: Client, source: str, detail: str = "") -> Client:
    return _opt_out(
        client, field="email_unsubscribed_at", channel=Channel.EMAIL, source=source, detail=detail
    )


@transaction.atomic
def client_email_suppress(
    *, client: Client, reason: str, source: str = ConsentChange.Source.PROVIDER
) -> Client:
    """A hard bounce or complaint: stop emailing this address until staff fix it."""
    now = timezone.now()
    Client.objects.filter(pk=client.pk).update(
        email_suppressed_at=now, email_suppressed_reason=reason[:200], updated_at=now
    )
    client.email_suppressed_at, client.email_suppressed_reason = now, reason[:200]
    _record(client, channel=Channel.EMAIL, granted=False, source=source, detail=reason)
    return client


@transaction.atomic
def client_save(*, client: Client) -> Client:
    """Validate and save a new or changed client.

    Validation normalises the email (stripped, lowercase) and checks the phone
    (stored E.164), the time zone and the one-email-per-trainer rule, with the
    messages staff see in the admin.
    """
    # Before field validation, which would refuse " pat@example.com".
    client.email = (client.email or "").strip().lower()
    client.full_clean()
    changes = preference_changes(client)
    client.save()
    record_preference_changes(client=client, changes=changes, source=ConsentChange.Source.STAFF)
    return client


def record_preference_changes(*, client: Client, changes, source: str, detail: str = "") -> None:
    for (channel, category), granted in changes:
        _record(client, channel=channel, category=category, granted=granted, source=source, detail=detail)


def record_preference_changes_in_bulk(entries, *, source: str, detail: str = "") -> None:
    """``record_preference_changes`` for many clients at once: ``entries`` is (client, changes) pairs."""
    ConsentChange.objects.bulk_create(
        [
            ConsentChange(
                client=client,
                channel=channel,
                category=category,
                granted=granted,
                source=source,
                detail=detail[:200],
            )
            for client, changes in entries
            for (channel, category), granted in changes
        ]
    )


def preference_changes(client: Client, *, before: dict | None = None) -> list:
    """The contact preferences this save changes: every consent needs its "when and how".

    A new client is compared with the defaults, an existing one with its stored row
    (or ``before``, its preferences as already loaded: field name -> value).
    """
    fields = list(PREFERENCE_FIELDS.values())
    if before is not None:
        pass
    elif client._state.adding:
        before = {name: Client._meta.get_field(name).get_default() for name in fields}
    else:
        before = Client.objects.filter(pk=client.pk).values(*fields).get()
    return [
        (key, getattr(client, name))
        for key, name in PREFERENCE_FIELDS.items()
        if getattr(client, name) != before[name]
    ]


def client_rotate_portal_secret(*, client: Client) -> Client:
    """Revoke every portal link sent to this client so far."""
    client.portal_secret = new_portal_secret()
    Client.objects.filter(pk=client.pk).update(portal_secret=client.portal_secret)
    return client


def staff_set_timezone(*, user, timezone_name: str, notify: str | None = None) -> StaffProfile:
    """Set the zone ``user``'s pages show times in (blank: the studio's) and, when given,
    how they are told what their clients do (``StaffProfile.Notify``)."""
    profile, _ = StaffProfile.objects.get_or_create(user=user)
    profile.timezone = timezone_name.strip()
    if notify is not None:
        if notify == StaffProfile.Notify.HOURLY and profile.notify != notify:
            # The first digest covers from now on, not everything that ever happened.
            profile.digested_until = timezone.now()
        profile.notify = notify
    profile.full_clean()
    profile.save()
    return profile


def staff_claim_digest_window(*, profile: StaffProfile, until):
    """Take the next stretch of time an hourly digest covers: ``(since, until)``, or ``None``
    when another run took it first (two workers running the schedule at once).

    A conditional update on the row is the claim, so each stretch is told once.
    """
    since = profile.digested_until
    claimed = (
        StaffProfile.objects.filter(pk=profile.pk, digested_until=since)
        if since is not None
        else StaffProfile.objects.filter(pk=profile.pk, digested_until__isnull=True)
    ).update(digested_until=until)
    if not claimed or (since is not None and since >= until):
        return None
    return since, until
