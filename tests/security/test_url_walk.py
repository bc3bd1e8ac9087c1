"""Every URL the project mounts, walked with hostile input: never a 500, never a write.

The URLs come from the URLconf itself (``get_resolver()``, recursively, the admin's
and every included app's), so a view added later is walked without touching this
file; a pattern the walk cannot fill in fails the suite instead of being skipped.

Each URL is requested by three visitors who must not change anything:

- anonymous,
- a logged-in user who is not staff,
- a trainer, at the ids of *another* trainer's objects (invariant 6).

Parameters are filled with real ids of the other trainer's objects and with garbage
(letters, huge numbers, NUL, invalid UTF-8, zero); query strings and POST bodies carry
NUL, invalid UTF-8, oversized values and non-JSON bytes. Each (visitor, URL) pair gets
a fixed sample of these variants (seeded by the URL, so a failure reproduces) rather
than the full cross product, which keeps the walk fast enough for CI. Another sample:
``URL_WALK_SEED=7 pytest tests/security`` (CI uses the default, 0).

Asserted, per visitor:

- no response is a server error: a 500 or an unhandled exception (a deliberate 503,
  the health check saying the worker is down, is an answer),
- no row of the project's tables changes or disappears (every column compared before
  and after), and no row is added; except ``django_session`` (logging in and the
  messages framework may write a session row, which grants nothing), the login-lockout
  app's tables (failed logins are recorded by design), ``last_login``, and for the
  trainer new rows where they may add them (an add form may accept the walk's text,
  with its admin log entry; their own settings and calendar feed rows), never one
  about the other trainer's client,
- the other trainer's client never appears in a response (a name only they have).

CSRF checks are off in Django's test client, so every view is reached as if the
visitor had a valid token: "no write" holds without relying on CSRF.
"""

import os
import re
import zlib
from random import Random

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter
from django.urls.resolvers import RegexPattern, RoutePattern

from automation.models import AutomationLog, AutomationRule, TriggerEvent
from campaigns.models import Campaign, Segment
from messaging.models import Message
from messaging.portal.tokens import make_portal_token
from messaging.unsubscribe import unsubscribe_token
from tests.factories import (
    ClientFactory,
    ManagerFactory,
    PaymentFactory,
    SessionFactory,
    TagFactory,
    TrainerFactory,
)

pytestmark = pytest.mark.django_db

SEED = os.environ.get("URL_WALK_SEED", "0")

#: Only the other trainer's client carries these; a response that shows them leaks.
SECRET_FIRST_NAME = "Zebedeeus"
SECRET_LAST_NAME = "Quokkaleak"

#: Rows these may write are harmless (see the module docstring).
UNCHECKED_TABLES = {"django_session"}
UNCHECKED_APPS = {"axes"}

HUGE = "99999999999999999999"
GARBAGE_IDS = ["abc", HUGE, "%00", "%ff%fe", "0", "-1", "1%2F..%2F2"]
GARBAGE_INTS = [HUGE, "0"]

QUERIES = [
    "q=%00",
    "q=a%ff%feb",
    f"p={HUGE}&o=abc.-5",
    "q=" + "x" * 20_000,
    "id__exact=%00&_changelist_filters=%ff",
    f"preview_client=%C2%B2&trainer={HUGE}&client={HUGE}",
    f"q={SECRET_LAST_NAME}&term={SECRET_LAST_NAME}&app_label=clients&model_name=client&field_name=tags",
    "action=confirm&next=%00",
    "date=2026-13-45&start=2026-02-30&end=0000-00-00&trainer=%C2%B2",
    "created_at__gte=0001-01-01+00:00:00%2B14:00&starts_at__lt=9999-12-31+23:59:59-12:00&due_date__lt=99999-01-01",
]
BODIES = [
    (
        "invalid UTF-8 and NUL",
        b"name=%ff%fe&q=a%00b&body=%00&first_name=%c0%af",
        "application/x-www-form-urlencoded",
    ),
    ("oversized", {"name": "x" * 300_000, "body": "y" * 300_000, "subject": "z" * 10_000}, None),
    ("not JSON", b"\xff\xfe\xfd{not json", "application/json"),
    (
        "NUL fields",
        {"name": "a\x00b", "first_name": "\x00", "body": "\x00", "q": "\x00", "token": "\x00"},
        None,
    ),
]


# --- The URLconf ----------------------------------------------------------------------------


def mounted_patterns(patterns=None, chain=()):
    """Every view's pattern, with the chain of patterns leading to it."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from mounted_patterns(entry.url_patterns, (*chain, entry.pattern))
        elif isinstance(entry, URLPattern):
            yield (*chain, entry.pattern), entry


def route_of(chain) -> str:
    return "".join(str(p) for p in chain)


_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")


def _fill_regex(regex: str, values: dict) -> str:
    """A path matching ``regex``: named groups take ``values``, optional groups vanish."""
    out, i = [], 0
    regex = regex.removeprefix("^").removesuffix("$")
    while i < len(regex):
        if regex[i] == "(":
            depth, j = 0, i
            while True:
                depth += {"(": 1, ")": -1}.get(regex[j], 0)
                if depth == 0:
                    break
                j += 1
            group = regex[i : j + 1]
            if match := _NAMED_GROUP.match(group):
                out.append(values[match.group(1)])
            elif regex[j + 1 : j + 2] != "?":
                raise AssertionError(f"cannot fill the group {group} of {regex}: teach the walk")
            i = j + 1 + (regex[j + 1 : j + 2] == "?")
        elif regex[i] == "\\":
            out.append(regex[i + 1])
            i += 2
        else:
            out.append(regex[i])
            i += 1
    return "".join(out)


def _params(pattern):
    if isinstance(pattern, RoutePattern):
        return {name: conv for name, conv in pattern.converters.items()}
    return {name: None for name in re.compile(pattern.regex.pattern).groupindex}


def build_path(chain, values: dict) -> str:
    parts = []
    for pattern in chain:
        if isinstance(pattern, RoutePattern):
            parts.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], str(pattern)))
        elif isinstance(pattern, RegexPattern):
            parts.append(_fill_regex(pattern.regex.pattern, values))
    return "/" + "".join(parts)


# --- The other trainer's book ------------------------------------------------------------------


@pytest.fixture
def book(db):
    """Trainer A's objects, one of each kind, that every visitor here must not reach."""
    owner = TrainerFactory(username="owner_trainer")
    client = ClientFactory(trainer=owner, first_name=SECRET_FIRST_NAME, last_name=SECRET_LAST_NAME)
    client.tags.add(TagFactory(name="walk-tag"))
    session = SessionFactory(client=client)
    payment = PaymentFactory(client=client)
    message = Message.objects.create(client=client, channel="in_app", body="hello", status="sent")
    rule = AutomationRule.objects.create(
        name="walk rule", trigger_event=TriggerEvent.SESSION_CREATED, channel="sms", trainer=owner
    )
    log = AutomationLog.objects.create(rule=rule, occurrence_key="walk", status="sent", client=client)
    segment = Segment.objects.create(name="walk segment", owner=owner)
    campaign = Campaign.objects.create(
        name="walk campaign", subject="Hi", body="Hi {{ first_name }}", segment=segment, created_by=owner
    )
    objects = {
        "auth.user": owner,
        "clients.client": client,
        "clients.tag": client.tags.get(),
        "scheduling.session": session,
        "billing.payment": payment,
        "messaging.message": message,
        "automation.automationrule": rule,
        "automation.automationlog": log,
        "campaigns.segment": segment,
        "campaigns.campaign": campaign,
    }
    real = {
        "client_id": str(client.pk),
        "session_id": str(session.pk),
        "id": str(owner.pk),
        "content_type_id": str(ContentType.objects.get_for_model(client).pk),
        # Tampered: a valid token is itself a key (the portal, the unsubscribe link).
        "token": make_portal_token(client)[:-2] + "xx",
        "app_label": "clients",
        "url": "no-such-page/",
        "action": "cancel",
    }
    return {"objects": objects, "real": real, "client": client, "unsubscribe": unsubscribe_token(client)}


def real_values(chain, book) -> dict:
    # A parameter the walk has not heard of yet still gets a plausible value.
    values = {
        name: str(book["client"].pk) if isinstance(converter, IntConverter) else "walk"
        for pattern in chain
        for name, converter in _params(pattern).items()
    }
    values |= book["real"]
    route = route_of(chain)
    model = next(
        (
            m
            for m in admin.site._registry
            if route.startswith(f"admin/{m._meta.app_label}/{m._meta.model_name}/")
        ),
        None,
    )
    if model is not None:
        obj = book["objects"].get(model._meta.label_lower) or model._base_manager.order_by("pk").first()
        values["object_id"] = str(obj.pk) if obj is not None else "1"
    else:
        values["object_id"] = str(book["client"].pk)
    return values


def garbage_values(chain, rng) -> dict:
    values = {}
    for pattern in chain:
        for name, converter in _params(pattern).items():
            choices = GARBAGE_INTS if isinstance(converter, IntConverter) else GARBAGE_IDS
            values[name] = rng.choice(choices)
    return values


# --- The walk ---------------------------------------------------------------------------------


#: Columns that change by logging in (the walk logs in again after the logout view).
UNCHECKED_COLUMNS = {"last_login"}


#: A staff user's own settings rows, created on first use of a page of theirs.
SELF_SERVICE_TABLES = {"django_admin_log", "clients_staffprofile", "scheduling_calendarfeed"}


def snapshot() -> dict:
    """Every checked row of every table, by primary key, as {column: value}."""
    state = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.db_table in UNCHECKED_TABLES or meta.app_label in UNCHECKED_APPS or not meta.managed:
            continue
        columns = [f.attname for f in meta.concrete_fields if f.attname not in UNCHECKED_COLUMNS]
        state[meta.db_table] = {row["pk"]: row for row in model._base_manager.values("pk", *columns)}
    return state


def may_add(user) -> set:
    """Tables where ``user`` may legitimately add rows of their own through a page they may use.

    A trainer's add form can accept what the walk sends (U+FFFD from invalid UTF-8
    is valid text for a tag's name), with its admin log entry; their own settings
    rows appear on first use.
    """
    if user is None or not user.is_staff:
        return set()
    tables = set(SELF_SERVICE_TABLES)
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if user.has_perm(f"{meta.app_label}.add_{meta.model_name}"):
            tables.add(meta.db_table)
    return tables


def writes(before: dict, after: dict, *, may_add_to=frozenset(), foreign_client=None) -> list:
    """Rows changed or deleted (never allowed) and rows added outside ``may_add_to``.

    An added row about ``foreign_client`` (the other trainer's) is never allowed.
    """
    found = []
    for table, rows in before.items():
        new = after[table]
        changed = [pk for pk, row in rows.items() if new.get(pk) != row]
        if changed:
            found.append(f"{table}: rows {changed[:5]} changed or deleted")
        added = [row for pk, row in new.items() if pk not in rows]
        if added and table not in may_add_to:
            found.append(f"{table}: rows added {added[:3]}")
        elif foreign_client is not None and (
            about := [row for row in added if row.get("client_id") == foreign_client.pk]
        ):
            found.append(f"{table}: rows added about the other trainer's client {about[:3]}")
    return found


def requests_for(chain, book, rng):
    """The sampled (method, path, query, body) variants for one URL: two or three."""
    real = build_path(chain, real_values(chain, book))
    yield "GET", real, rng.choice(QUERIES), None
    yield "POST", real, rng.choice(["", *QUERIES]), rng.choice(BODIES)
    if any(_params(p) for p in chain):
        # Garbage may well resolve to another view (a catch-all): that is fine here.
        garbage = build_path(chain, real_values(chain, book) | garbage_values(chain, rng))
        if rng.random() < 0.5:
            yield "GET", garbage, rng.choice(["", *QUERIES]), None
        else:
            yield "POST", garbage, rng.choice(["", *QUERIES]), rng.choice(BODIES)


def send(http, method, path, query, body):
    url = f"{path}?{query}" if query else path
    if method == "GET":
        return http.get(url)
    _label, data, content_type = body
    if content_type is None:
        return http.post(url, data)
    return http.post(url, data, content_type=content_type)


def walk(http, book, persona, user=None):
    failures, leaks, seen = [], [], 0
    for chain, _entry in mounted_patterns():
        route = route_of(chain)
        rng = Random(zlib.crc32(f"{SEED}:{persona}:{route}".encode()))
        for method, path, query, body in requests_for(chain, book, rng):
            seen += 1
            with transaction.atomic():
                response = send(http, method, path, query, body)
                crashed = response.status_code == 500 or getattr(response, "exc_info", None) is not None
                if crashed:
                    transaction.set_rollback(True)
            where = f"{method} {path}?{query[:60]}" + (f" [{body[0]}]" if body else "")
            if crashed:
                exc = getattr(response, "exc_info", None)
                failures.append(f"{where} -> {response.status_code} {exc[1]!r}" if exc else where)
            seen_as = getattr(response.wsgi_request, "user", None)  # None: refused before authentication
            if user is not None and seen_as is not None and not seen_as.is_authenticated:
                http.force_login(user)  # the walk passed the logout view: carry on as the same visitor
            content = getattr(response, "content", b"")
            if SECRET_FIRST_NAME.encode() in content:
                leaks.append(where)
    return failures, leaks, seen


@pytest.fixture
def visitor(request, book):
    http = HttpClient(raise_request_exception=False)
    user = None
    if request.param == "non-staff user":
        user = get_user_model().objects.create_user("member", "member@example.com", "pw", is_staff=False)
    elif request.param == "another trainer":
        user = TrainerFactory(username="intruder_trainer")
    elif request.param == "studio manager":
        user = ManagerFactory(username="walk_manager")
    if user is not None:
        http.force_login(user)
    return request.param, http, user


@pytest.mark.parametrize("visitor", ["anonymous", "non-staff user", "another trainer"], indirect=True)
def test_every_url_answers_hostile_input_without_a_server_error_a_write_or_a_leak(visitor, book):
    persona, http, user = visitor
    before = snapshot()

    failures, leaks, seen = walk(http, book, persona, user)

    assert seen > 300, "the walk found too few URLs: is the URLconf still walked?"
    assert not failures, f"{len(failures)} server error(s), URL_WALK_SEED={SEED}:\n" + "\n".join(failures)
    assert not leaks, "the other trainer's client shown to " + persona + ":\n" + "\n".join(leaks)
    found = writes(before, snapshot(), may_add_to=may_add(user), foreign_client=book["client"])
    assert not found, f"rows written by {persona}:\n" + "\n".join(found)


@pytest.mark.parametrize("visitor", ["studio manager"], indirect=True)
def test_every_url_answers_hostile_input_from_a_manager_without_a_server_error(visitor, book):
    # A manager may see the whole book and change it (an inbox reply is a write), so
    # only the server errors count here: the pages with the most data behind them.
    persona, http, user = visitor
    failures, _leaks, seen = walk(http, book, persona, user)
    assert seen > 300
    assert not failures, f"{len(failures)} server error(s), URL_WALK_SEED={SEED}:\n" + "\n".join(failures)


def test_the_walk_fills_every_mounted_pattern_including_new_ones(book):
    # Every pattern (admin, regex ones, included apps) yields a path that resolves to it,
    # unless an earlier pattern takes that path first (the dashboard replaces the
    # admin's own index): the walk then reaches the view that really answers.
    routes, first_at = 0, {}
    for chain, entry in mounted_patterns():
        path = build_path(chain, real_values(chain, book))
        if path not in first_at:
            first_at[path] = entry.callback
            assert resolve(path).func == entry.callback, route_of(chain)
        routes += 1
    assert routes > 100
    assert any(route_of(chain).startswith("admin/campaigns/campaign/") for chain, _ in mounted_patterns())
    assert set(admin.site._registry) >= {Campaign, Segment, AutomationRule}


@pytest.mark.urls("tests.security.walk_canary_urls")
def test_the_walk_catches_a_new_view_that_crashes_or_writes(book):
    # Views it has never heard of, found through the URLconf alone.
    before = snapshot()

    failures, _leaks, seen = walk(HttpClient(raise_request_exception=False), book, "anonymous")

    assert seen == 5
    assert any("/canary/" in f and "ValueError" in f for f in failures)
    [written] = writes(before, snapshot())
    assert written.startswith("clients_tag: rows added")
