"""Packages and credits: selling, spending, returning, adjusting, expiring.

Every change is a ``CreditEntry`` row; credits left is the sum of a package's rows.
The spend/return functions are called with the session's row locked (the status
change's transaction, see ``billing.receivers``) and lock the client's usable
packages in id order before counting, so two sessions completing at once against
one last credit spend it once, and a session never holds two spends (the database
refuses a second open spend as well).

Which package pays for a session: the oldest (bought first) of the packages the
session's client owns or that were shared with them, valid on the session's date
on the studio's calendar, covering its session type (a type with no session types
covers every session), with a credit left. None: nothing is spent; the session
shows as not paid for by a package, and staff may charge it by hand, going below
zero only when they tick that they mean it (``credit_spend(..., package=,
allow_negative=True, by=)``).
"""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import ClientPackage, CreditEntry, PackageType
from billing.services import payment_create
from clients.models import Client
from common.clock import studio_today, studio_tz
from scheduling.models import Session

Kind = CreditEntry.Kind


class Reason:
    """Short, stable words for why a credit moved (``CreditEntry.reason`` of spends/returns)."""

    COMPLETED = "session completed"
    CANCELLED_IN_TIME = "cancelled in time"
    NO_SHOW = "no-show"
    LATE_CANCEL = "late cancellation"
    REOPENED = "session no longer completed"


# --- Reading -------------------------------------------------------------------------


def credits_left_expression():
    """An annotation: the sum of the package's ledger rows (0 for none)."""
    total = (
        CreditEntry.objects.filter(package=OuterRef("pk"))
        .order_by()
        .values("package")
        .annotate(total=Sum("delta"))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def packages_with_credits(queryset: QuerySet | None = None) -> QuerySet:
    """Packages annotated with ``credits_left``."""
    queryset = ClientPackage.objects.all() if queryset is None else queryset
    return queryset.annotate(credits_left=credits_left_expression())


def credits_left(package: ClientPackage) -> int:
    return CreditEntry.objects.filter(package=package).aggregate(total=Coalesce(Sum("delta"), 0))["total"]


def usable_packages(client: Client, *, on: date | None = None) -> QuerySet:
    """Packages ``client`` may draw on (own, or shared with them), valid ``on`` a date, oldest first."""
    queryset = ClientPackage.objects.filter(
        Q(client=client) | Q(shared_with=client, package_type__shareable=True)
    )
    if on is not None:
        queryset = queryset.filter(bought_on__lte=on).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=on)
        )
    return queryset.distinct().order_by("bought_on", "pk")


def client_credit_summary(client: Client, *, today: date | None = None) -> list[ClientPackage]:
    """The client's packages that still count (valid today, or with credits left), oldest first,
    each with ``credits_left``: what the client page and the portal show."""
    today = today or studio_today()
    queryset = packages_with_credits(
        ClientPackage.objects.filter(Q(client=client) | Q(shared_with=client, package_type__shareable=True))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .select_related("package_type", "client")
        .distinct()
    )
    return list(queryset.order_by("bought_on", "pk"))


def expiry_text(package: ClientPackage, *, today: date | None = None) -> str:
    """ "valid until 30 Apr 2026" / "expired 30 Apr 2026" / "never expires" (studio calendar)."""
    today = today or studio_today()
    if package.valid_until is None:
        return "never expires"
    day = f"{package.valid_until.day} {package.valid_until:%b %Y}"
    return f"expired {day}" if package.valid_until < today else f"valid until {day}"


def open_spend(session: Session) -> CreditEntry | None:
    """The credit this session holds now (a spend not returned), if any."""
    return (
        CreditEntry.objects.filter(session=session, kind=Kind.SPEND, returned=False)
        .select_related("package")
        .first()
    )


def session_day(session: Session) -> date:
    """The session's date on the studio's calendar: the day a package must be valid on."""
    return session.starts_at.astimezone(studio_tz()).date()


def covers(package_type: PackageType, session: Session) -> bool:
    type_ids = {t.pk for t in package_type.session_types.all()}
    return not type_ids or session.session_type_id in type_ids


# --- Selling -------------------------------------------------------------------------


def valid_until_for(package_type: PackageType, bought_on: date) -> date | None:
    if package_type.validity_days is None:
        return None
    return bought_on + timedelta(days=package_type.validity_days - 1)


@transaction.atomic
def package_sell(
    *,
    client: Client,
    package_type: PackageType,
    bought_on: date | None = None,
    due_date: date | None = None,
    sold_by=None,
    shared_with=(),
) -> ClientPackage:
    """Sell a package: its Payment (due ``due_date``, default the day it is bought),
    the package, and the purchase row that gives it its credits."""
    if not package_type.is_active:
        raise ValidationError(f"{package_type} is no longer on sale.", code="not_on_sale")
    bought_on = bought_on or studio_today()
    shared_with = [c for c in shared_with if c.pk != client.pk]
    if shared_with and not package_type.shareable:
        raise ValidationError(f"{package_type} cannot be shared with other clients.", code="not_shareable")
    payment = payment_create(
        client=client,
        amount=package_type.price,
        due_date=due_date or bought_on,
        description=f"Package: {package_type.name} ({package_type.sessions} sessions)"[:200],
    )
    package = ClientPackage.objects.create(
        client=client,
        package_type=package_type,
        bought_on=bought_on,
        valid_until=valid_until_for(package_type, bought_on),
        payment=payment,
        sold_by=sold_by,
    )
    if shared_with:
        package.shared_with.set(shared_with)
    CreditEntry.objects.create(
        package=package, kind=Kind.PURCHASE, delta=package_type.sessions, reason="bought", created_by=sold_by
    )
    return package


# --- Spending and returning ----------------------------------------------------------


def _lock_packages(ids) -> None:
    # Id order: every spender takes the locks in the same order, so none deadlock.
    list(ClientPackage.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


def _lock_session(session: Session) -> None:
    # Already held when called from a status change; staff actions take it here.
    list(Session.objects.select_for_update().filter(pk=session.pk).values_list("pk"))


@transaction.atomic
def credit_spend(
    *,
    session: Session,
    reason: str,
    package: ClientPackage | None = None,
    allow_negative: bool = False,
    by=None,
) -> CreditEntry | None:
    """Take one credit for ``session``; the new row, or None when nothing was spent.

    Nothing is spent when the session already holds a credit, or (without
    ``package``) when no usable package has one left. With ``package`` (staff
    charging a session by hand) that package is used whatever its dates and
    types; with no credit left it is refused unless ``allow_negative``.
    """
    _lock_session(session)
    if open_spend(session) is not None:
        return None
    if package is not None:
        if package.client_id != session.client_id and not (
            package.package_type.shareable and package.shared_with.filter(pk=session.client_id).exists()
        ):
            raise ValidationError(
                "This package is not the session's client's, nor shared with them.", code="owner"
            )
        _lock_packages([package.pk])
        if credits_left(package) <= 0 and not allow_negative:
            raise ValidationError(
                f"{package} has no credits left. Tick “allow going below zero” to charge it anyway.",
                code="no_credit",
            )
        chosen = package
    else:
        candidates = [
            p for p in usable_packages(session.client, on=session_day(session)).select_related("package_type")
        ]
        candidates = [p for p in candidates if covers(p.package_type, session)]
        _lock_packages([p.pk for p in candidates])
        left = dict(
            packages_with_credits(
                ClientPackage.objects.filter(pk__in=[p.pk for p in candidates])
            ).values_list("pk", "credits_left")
        )
        chosen = next((p for p in candidates if left.get(p.pk, 0) > 0), None)
        if chosen is None:
            return None
    try:
        with transaction.atomic():
            return CreditEntry.objects.create(
                package=chosen, kind=Kind.SPEND, delta=-1, session=session, reason=reason[:200], created_by=by
            )
    except IntegrityError:
        # The database's own guard (one open spend per session): someone spent it first.
        return None


@transaction.atomic
def credit_return(*, session: Session, reason: str, by=None) -> CreditEntry | None:
    """Give back the credit ``session`` holds: a +1 row reversing its spend. None if it holds none."""
    _lock_session(session)
    spend = open_spend(session)
    if spend is None:
        return None
    # Claimed with a conditional update: a spend is returned once.
    if not CreditEntry.objects.filter(pk=spend.pk, returned=False).update(returned=True):
        return None
    return CreditEntry.objects.create(
        package=spend.package,
        kind=Kind.RETURN,
        delta=1,
        session=session,
        reverses=spend,
        reason=reason[:200],
        created_by=by,
    )


@transaction.atomic
def credit_adjust(
    *, package: ClientPackage, delta: int, reason: str, by, allow_negative: bool = False
) -> CreditEntry:
    """A staff correction: ± credits with who and why. Below zero only when ``allow_negative``."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the credits change."}, code="reason_required")
    if not delta:
        raise ValidationError({"delta": "Add or take at least one credit."}, code="zero")
    if abs(delta) > 1000:
        raise ValidationError({"delta": "Change at most 1,000 credits at once."}, code="too_many")
    _lock_packages([package.pk])
    left = credits_left(package)
    if left + delta < 0 and not allow_negative:
        raise ValidationError(
            {
                "delta": f"That leaves {left + delta} credits. Tick “allow going below zero” "
                "if the client really owes sessions."
            },
            code="negative",
        )
    return CreditEntry.objects.create(
        package=package, kind=Kind.ADJUSTMENT, delta=delta, reason=reason[:200], created_by=by
    )


# --- Expiry --------------------------------------------------------------------------


def packages_expire(*, today: date | None = None) -> int:
    """Write the expiry row (−credits left) of each package whose last day has passed.

    Once per package (a unique row); safe to run twice at once. Returns how many expired.
    """
    today = today or studio_today()
    already = CreditEntry.objects.filter(package=OuterRef("pk"), kind=Kind.EXPIRY)
    due = packages_with_credits(
        ClientPackage.objects.filter(valid_until__lt=today).exclude(Exists(already))
    ).filter(credits_left__gt=0)
    expired = 0
    for package_id in due.values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            _lock_packages([package_id])
            if CreditEntry.objects.filter(package_id=package_id, kind=Kind.EXPIRY).exists():
                continue
            left = credits_left(ClientPackage(pk=package_id))
            if left <= 0:
                continue
            CreditEntry.objects.create(package_id=package_id, kind=Kind.EXPIRY, delta=-left, reason="expired")
            expired += 1
    return expired
