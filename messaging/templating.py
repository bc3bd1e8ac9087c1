"""The template language staff write messages in: Django syntax, restricted.

A standalone engine with no loaders and only a handful of harmless tags and
filters: no ``{% load %}``, ``{% include %}``, ``{% debug %}`` or ``{% url %}``.
Templates only ever see a flat dict of strings, and only plain names are allowed
(``{{ first_name }}``, never ``{{ client.trainer.password }}``), so a template cannot
reach a model object, a method or anything else the context did not put there.

Public API (automation rules and campaigns use the same one; which variables an
automation event offers is automation's business, see ``automation.templating``):

- ``VARIABLES``: every variable with its description; ``CLIENT_VARIABLES`` (campaigns),
  ``SESSION_VARIABLES``, ``PAYMENT_VARIABLES``, ``RECEIPT_VARIABLES`` (receipt emails).
- ``validate_template(text, *, allowed)``: raises ``ValidationError`` naming the unknown
  variable, the forbidden tag or the filter with an unusable argument, and listing the
  valid names. A template it accepts renders without error whatever the (string) values.
- ``compile_template(text)`` / ``render(text_or_template, context) -> str``; both raise
  ``ValidationError`` (never anything else) for a template that cannot be used, so a
  template stored before a rule tightened is a readable error, not a crash.
- ``MAX_LENGTH``, ``MAX_NESTING``, ``MAX_CONDITION_OPERATORS``: checked before parsing.
- ``context_for(client=..., session=..., payment=..., receipt=..., now=..., names=...)``: the real
  context for one recipient; ``sample_values(names)``: believable sample values.
"""

import re
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import (
    FilterExpression,
    Lexer,
    Node,
    Template,
    TextNode,
    TokenType,
    Variable,
    VariableNode,
)
from django.template.defaulttags import IfNode
from django.utils import timezone
from django.utils.safestring import SafeString

from billing.charges import policy_text
from billing.credits import client_credit_summary, credits_left
from billing.policy import SessionCharge
from billing.stripe_links import pay_link, stripe_enabled
from common.money import format_amount
from common.timefmt import client_time
from messaging import links
from messaging.unsubscribe import unsubscribe_url

# --- The language ---------------------------------------------------------------------------

ALLOWED_TAGS = ("if", "firstof", "comment")

#: What each allowed filter accepts as its argument, checked at save time, because
#: Django only checks at render time (``wordwrap:0`` raises ``ValueError``, ``cut:5``
#: ``TypeError``, ``truncatechars:1e999`` ``OverflowError``). A filter is only allowed
#: with an entry here.
NO_ARGUMENT = "none"  # Django refuses an argument when parsing
WHOLE_NUMBER = "whole number"  # an integer literal from 1 to MAX_FILTER_NUMBER
TEXT = "text"  # a quoted text or a variable (variables are always text)
ANYTHING = "anything"
FILTER_ARGUMENTS = {
    "upper": NO_ARGUMENT,
    "lower": NO_ARGUMENT,
    "title": NO_ARGUMENT,
    "capfirst": NO_ARGUMENT,
    "default": ANYTHING,
    "truncatechars": WHOLE_NUMBER,
    "truncatewords": WHOLE_NUMBER,
    "cut": TEXT,
    "pluralize": TEXT,
    "yesno": TEXT,
    "wordwrap": WHOLE_NUMBER,
}
ALLOWED_FILTERS = tuple(FILTER_ARGUMENTS)
MAX_FILTER_NUMBER = 10_000

#: Limits checked on the raw text before Django parses it: the parser and the
#: renderer recurse once (several frames) per nested block and per operator of an
#: ``{% if %}``, so a few hundred of either exhaust Python's stack. Generous for a
#: message; well inside the stack at any nesting they allow.
MAX_LENGTH = 20_000
MAX_NESTING = 10
MAX_CONDITION_OPERATORS = 20
_CONDITION_OPERATORS = frozenset({"and", "or", "not", "in", "is", "==", "!=", "<", ">", "<=", ">="})

_library = Library()
for _name in ALLOWED_TAGS:
    _library.tag(_name, defaulttags.register.tags[_name])
for _name in ALLOWED_FILTERS:
    _library.filter(_name, defaultfilters.register.filters[_name])


class _RestrictedEngine(Engine):
    # Engine always prepends default_builtins (which include {% load %},
    # {% include %}, {% debug %}...); an empty list leaves only our library.
    default_builtins = []

    def __init__(self):
        # Plain-text bodies: the email channel escapes when it builds the HTML part.
        super().__init__(loaders=[], libraries={}, autoescape=False, string_if_invalid="")
        self.template_builtins = [_library]

    def find_template(self, name, dirs=None, skip=None):
        raise TemplateSyntaxError("Templates cannot include other templates.")


ENGINE = _RestrictedEngine()
_FILTER_NAMES = {func: name for name, func in _library.filters.items()}

# --- Variables --------------------------------------------------------------------------------

CLIENT_VARIABLES = {
    "first_name": "Client's first name",
    "last_name": "Client's last name",
    "full_name": "Client's full name",
    "trainer_name": "Trainer's name (the session's trainer for session events)",
    "studio_name": "The studio's name",
    "portal_link": "Link to the client's portal (messages, sessions, payments, preferences)",
    "booking_link": "Link to the portal page where the client books a session with their trainer",
    "unsubscribe_link": "Link that unsubscribes the client from this channel",
}
SESSION_VARIABLES = {
    "session_date": "Session date in the client's time zone, e.g. Tuesday 1 December 2026",
    "session_time": "Session start time in the client's time zone, e.g. 09:00 (with the zone, "
    "e.g. 10:00 CET, when it differs from the studio's)",
    "session_duration": "Session length, e.g. 60 minutes",
    "session_location": "Where the session takes place",
    "confirm_link": "Link where the client confirms the session",
    "cancel_link": "Link where the client cancels the session",
    "booked_by": "Who booked the session: client (online, in the portal) or staff, "
    'e.g. {% if booked_by == "client" %}Thanks for booking online!{% endif %}',
}
PAYMENT_VARIABLES = {
    "amount": "Amount with currency, e.g. £45.00",
    "amount_owed": "What is still owed on it (the amount less what has been received), e.g. £25.00",
    "due_date": "Due date, e.g. 1 December 2026",
    "days_overdue": "Whole days since the due date (0 before it)",
    "payment_description": "What the payment is for",
    "pay_link": "Link where the client pays the outstanding balance online (Stripe); empty when the "
    "studio takes no online payments or nothing is owed, so it is only allowed inside "
    "{% if pay_link %}...{% endif %} or as {{ pay_link|default:portal_link }}",
}
#: A no-show's or late cancellation's charge under the studio's policy (billing.charges).
CHARGE_VARIABLES = {
    "fee_amount": "The fee with currency, e.g. £20.00 (empty when no fee applies), "
    "e.g. {% if fee_amount %}As per our policy a {{ fee_amount }} fee applies.{% endif %}",
    "credit_used": "yes when a session credit was used for it (empty otherwise)",
    "credits_left": "Session credits the client has left now, e.g. 4 (empty when they have no package)",
    "charge_outcome": "What the policy did: fee, credit, free (one of the client's free ones) or nothing",
    "cancellation_policy": "The studio's cancellation policy in words, as the portal shows it",
}
PACKAGE_VARIABLES = {
    "credits_left": "Sessions left on the package, e.g. 2",
    "package_name": "The package's name, e.g. Ten sessions",
    "expires_on": 'The last day the package can be used, e.g. Tuesday 1 December 2026 (or "no expiry date")',
}
RECEIPT_VARIABLES = {
    "receipt_number": "The receipt's number in the studio's series, e.g. R00042",
    "receipt_date": "When the money was received, e.g. Tuesday 1 December 2026",
    "receipt_amount": "How much this receipt is for, with currency, e.g. £20.00",
    "receipt_method": "How it was paid, e.g. Bank transfer",
    "receipt_reference": "The payment reference given (often empty)",
    "paid_to_date": "What has been received on the payment up to and including this receipt",
    "balance_owed": "What is still owed on the payment after this receipt, e.g. £25.00 "
    "(empty once it is paid in full)",
}
VARIABLES = (
    CLIENT_VARIABLES
    | SESSION_VARIABLES
    | PAYMENT_VARIABLES
    | CHARGE_VARIABLES
    | PACKAGE_VARIABLES
    | RECEIPT_VARIABLES
)


# --- Validation -----------------------------------------------------------------------------

_INVALID_TAG = re.compile(r"Invalid block tag on line (\d+): '([^']+)'")
_INVALID_FILTER = re.compile(r"Invalid filter: '([^']+)'")


def check_limits(text: str) -> None:
    """Refuse text too long or too deeply nested to parse safely (before parsing it)."""
    if len(text) > MAX_LENGTH:
        raise ValidationError(
            f"The text is too long ({len(text):,} characters; at most {MAX_LENGTH:,}).", code="limit"
        )
    depth = 0
    in_comment = False
    # The lexer is a flat split (no recursion): it sees the tags exactly as the parser will.
    for token in Lexer(text).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        words = token.contents.split()
        command = words[0] if words else ""
        if in_comment:
            # The parser skips everything up to {% endcomment %} without looking at it.
            in_comment = command != "endcomment"
            continue
        if command == "comment":
            in_comment = True
        elif command == "if":
            depth += 1
            if depth > MAX_NESTING:
                raise ValidationError(
                    f"Line {token.lineno}: {{% if %}} tags are nested too deeply "
                    f"(at most {MAX_NESTING} levels).",
                    code="limit",
                )
        elif command == "endif":
            depth = max(0, depth - 1)
        if command in ("if", "elif"):
            operators = sum(word in _CONDITION_OPERATORS for word in words[1:])
            if operators > MAX_CONDITION_OPERATORS:
                raise ValidationError(
                    f"Line {token.lineno}: the condition is too long ({operators} operators; "
                    f"at most {MAX_CONDITION_OPERATORS} of and, or, not, ==...).",
                    code="limit",
                )


def compile_template(text: str) -> Template:
    """Compile with the restricted engine; ``ValidationError`` on syntax errors and limits."""
    check_limits(text)
    try:
        return Template(text, engine=ENGINE)
    except TemplateSyntaxError as exc:
        raise ValidationError(_friendly_syntax_error(str(exc)), code="syntax") from exc


def _friendly_syntax_error(message: str) -> str:
    if match := _INVALID_TAG.search(message):
        line, tag = match.groups()
        return (
            f"Line {line}: the tag {{% {tag} %}} is not allowed in messages. "
            f"Allowed tags: {', '.join(ALLOWED_TAGS)}."
        )
    if match := _INVALID_FILTER.search(message):
        return (
            f"The filter '{match.group(1)}' is not allowed in messages. "
            f"Allowed filters: {', '.join(ALLOWED_FILTERS)}."
        )
    return f"Template syntax error: {message}"


def _expressions(node: Node):
    """Every FilterExpression a node evaluates (its own, not its children's)."""
    if isinstance(node, VariableNode):
        yield node.filter_expression
    for condition, _nodelist in getattr(node, "conditions_nodelists", ()):
        if condition is not None:
            yield from _condition_expressions(condition)
    for expression in getattr(node, "vars", ()):
        if isinstance(expression, FilterExpression):
            yield expression


def _condition_expressions(condition):
    # {% if %} parses into a tree of operators whose leaves hold a FilterExpression.
    if isinstance(getattr(condition, "value", None), FilterExpression):
        yield condition.value
    for side in ("first", "second"):
        if (child := getattr(condition, side, None)) is not None:
            yield from _condition_expressions(child)


def _variables(expression: FilterExpression):
    if isinstance(expression.var, Variable) and expression.var.lookups is not None:
        yield expression.var.var
    for _func, args in expression.filters:
        for is_lookup, arg in args:
            if is_lookup and isinstance(arg, Variable) and arg.lookups is not None:
                yield arg.var


def _argument_errors(expression: FilterExpression):
    """Why each filter's argument would fail when rendered (see ``FILTER_ARGUMENTS``)."""
    for func, args in expression.filters:
        name = _FILTER_NAMES.get(func, getattr(func, "__name__", "?"))
        kind = FILTER_ARGUMENTS.get(name, NO_ARGUMENT)
        for is_lookup, arg in args:
            is_variable = is_lookup and arg.lookups is not None
            literal = arg.literal if is_lookup else arg
            if kind == WHOLE_NUMBER and (
                is_variable
                or not isinstance(literal, int)
                or isinstance(literal, bool)
                or not 1 <= literal <= MAX_FILTER_NUMBER
            ):
                yield (
                    f"The filter '{name}' needs a whole number from 1 to {MAX_FILTER_NUMBER:,}, "
                    f"e.g. {name}:20."
                )
            elif kind == TEXT and not is_variable and type(literal) not in (str, SafeString):
                # Numbers and translated _("...") texts are not str and crash these filters.
                yield f"The filter '{name}' needs a text in quotes, e.g. {name}:\"{_TEXT_EXAMPLES[name]}\"."


_TEXT_EXAMPLES = {"cut": " ", "pluralize": "es", "yesno": "yes,no"}


def used_variables(template: Template) -> set[str]:
    names = set()
    for node in template.nodelist.get_nodes_by_type(Node):
        for expression in _expressions(node):
            names.update(_variables(expression))
    return names


def _unguarded(nodelist, guarded: frozenset = frozenset()) -> set[str]:
    """Variables shown outside an {% if %} branch that tests them and without a |default."""
    found = set()
    for node in nodelist:
        if isinstance(node, VariableNode):
            expression = node.filter_expression
            if not any(_FILTER_NAMES.get(func) == "default" for func, _args in expression.filters):
                found.update(set(_variables(expression)) - guarded)
        elif isinstance(node, IfNode):
            for condition, branch in node.conditions_nodelists:
                # Only a branch whose own condition names the variable may show it
                # ({% else %}, condition None, is where it was empty).
                tested = (
                    {
                        name
                        for expression in _condition_expressions(condition)
                        for name in _variables(expression)
                    }
                    if condition is not None
                    else set()
                )
                found |= _unguarded(branch, guarded | tested)
        else:
            for attr in getattr(node, "child_nodelists", ()):
                found |= _unguarded(getattr(node, attr, None) or [], guarded)
    return found


def validate_template(text: str, *, allowed) -> Template:
    """Compile and check every variable against ``allowed`` (names); return the template.

    Raises ``ValidationError`` with one message per problem, each listing the valid names.
    """
    template = compile_template(text)
    allowed = set(allowed)
    valid = ", ".join(sorted(allowed))
    errors = []
    for node in template.nodelist.get_nodes_by_type(TextNode):
        # Django prints an unclosed "{{ name" as text; staff meant a variable.
        for opener, closer in (("{{", "}}"), ("{%", "%}")):
            if opener in node.s:
                errors.append(f"'{opener}' without a matching '{closer}'.")
    for node in template.nodelist.get_nodes_by_type(Node):
        for expression in _expressions(node):
            errors.extend(error for error in _argument_errors(expression) if error not in errors)
    for name in sorted(_unguarded(template.nodelist) & OPTIONAL_VARIABLES & allowed):
        errors.append(
            f"'{name}' can be empty (no online payments, nothing owed): write "
            f"{{% if {name} %}}...{{{{ {name} }}}}...{{% endif %}} or {{{{ {name}|default:portal_link }}}}."
        )
    for name in sorted(used_variables(template)):
        if "." in name:
            errors.append(
                f"'{name}' is not allowed: use plain variable names without dots. Valid variables: {valid}."
            )
        elif name not in allowed:
            errors.append(f"Unknown variable '{name}'. Valid variables: {valid}.")
    if errors:
        raise ValidationError(errors, code="variable")
    return template


# --- Rendering ------------------------------------------------------------------------------


def render(template: str | Template, context: dict[str, str]) -> str:
    """Render with a flat context of strings; ``ValidationError`` if the template cannot render.

    Every known variable is present (empty when the context lacks it), as a filter
    argument naming a missing variable would otherwise raise.
    """
    if isinstance(template, str):
        template = compile_template(template)
    values = dict.fromkeys(VARIABLES, "") | {k: str(v) for k, v in context.items()}
    try:
        text = template.render(Context(values, autoescape=False))
    except Exception as exc:
        # Staff write these templates, and one stored before a validation rule existed
        # may still fail here: it is the template's error, for the caller to show or
        # record (a preview, a test send, a campaign back to draft), never a crash.
        raise ValidationError(
            f"The template cannot be rendered ({type(exc).__name__}: {exc}). Edit and save it again.",
            code="render",
        ) from exc
    return text.strip()


def _long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _person_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


#: Signed per-client links: a preview or a test send carries sample values instead,
#: so staff never see (or pass on) a live link, and a click in a test cannot
#: unsubscribe, confirm or cancel anything for the real client.
LINK_VARIABLES = (
    "portal_link",
    "booking_link",
    "unsubscribe_link",
    "confirm_link",
    "cancel_link",
    "pay_link",
)

#: Variables that may be empty for a real recipient: a template may only show them inside
#: an {% if %} that tests them, or with a |default, so a message never says "pay here: ".
OPTIONAL_VARIABLES = frozenset({"pay_link"})


def context_for(
    *,
    client,
    session=None,
    payment=None,
    charge=None,
    package=None,
    receipt=None,
    now: datetime | None = None,
    names=None,
    sample_links: bool = False,
) -> dict:
    """The flat context of strings for one recipient.

    ``names`` limits the work to the variables a template uses (links are signed
    per call, so they are only built when asked for). ``sample_links``: the
    links are the sample ones (previews and test sends).
    """
    wanted = set(VARIABLES if names is None else names)
    if sample_links:
        link_names = wanted & set(LINK_VARIABLES)
        return context_for(
            client=client,
            session=session,
            payment=payment,
            charge=charge,
            package=package,
            receipt=receipt,
            now=now,
            names=wanted - link_names,
        ) | sample_values(link_names)
    now = now or timezone.now()
    tz = client.tzinfo
    values = {
        "first_name": lambda: client.first_name,
        "last_name": lambda: client.last_name,
        "full_name": lambda: client.full_name,
        "trainer_name": lambda: _person_name(session.trainer if session else client.trainer),
        "studio_name": lambda: settings.STUDIO_NAME,
        "portal_link": lambda: links.portal_link(client),
        "booking_link": lambda: links.booking_link(client),
        "unsubscribe_link": lambda: unsubscribe_url(client),
    }
    if session is not None:
        local = session.starts_at.astimezone(tz)
        values |= {
            "session_date": lambda: _long_date(local.date()),
            # Named ("11:00 CET") when the client's clock is not the studio's.
            "session_time": lambda: client_time(session.starts_at, tz),
            "session_duration": lambda: f"{session.duration_minutes} minutes",
            "session_location": lambda: session.location,
            "confirm_link": lambda: links.confirm_link(session),
            "cancel_link": lambda: links.cancel_link(session),
            "booked_by": lambda: session.booked_by,
        }
    if payment is not None:
        values |= {
            "amount": lambda: format_amount(payment.amount, payment.currency),
            "amount_owed": lambda: format_amount(payment.balance, payment.currency),
            "due_date": lambda: _long_date(payment.due_date),
            "days_overdue": lambda: str(max(0, (now.astimezone(tz).date() - payment.due_date).days)),
            "payment_description": lambda: payment.description,
            "pay_link": lambda: pay_link(payment),
        }
    if charge is not None:
        values |= {
            "fee_amount": lambda: (
                format_amount(charge.fee_payment.amount, charge.fee_payment.currency)
                if charge.fee_payment_id
                else ""
            ),
            "credit_used": lambda: "yes" if charge.outcome == SessionCharge.Outcome.CREDIT else "",
            "credits_left": lambda: _credits_left(client),
            "charge_outcome": lambda: charge.outcome,
            "cancellation_policy": policy_text,
        }
    if package is not None:
        values |= {
            # Read from the ledger when the caller did not annotate it.
            "credits_left": lambda: (
                package.credits_left if hasattr(package, "credits_left") else credits_left(package)
            ),
            "package_name": lambda: package.package_type.name,
            "expires_on": lambda: (
                _long_date(package.valid_until) if package.valid_until else "no expiry date"
            ),
        }
    if receipt is not None:
        values |= _receipt_values(receipt, tz)
    return {name: str(build()) for name, build in values.items() if name in wanted}


def _credits_left(client) -> str:
    packages = client_credit_summary(client)
    return str(sum(p.credits_left for p in packages)) if packages else ""


def _receipt_values(receipt, tz) -> dict:
    payment = receipt.payment

    def paid_to_date():
        # This receipt and the ones before it: a receipt sent again later still says
        # what was owed when it was written.
        return sum(r.amount for r in payment.receipts.all() if r.number <= receipt.number)

    def balance_owed():
        owed = payment.amount - paid_to_date()
        return format_amount(owed, payment.currency) if owed > 0 else ""

    return {
        "receipt_number": lambda: receipt.label,
        "receipt_date": lambda: _long_date(receipt.paid_at.astimezone(tz).date()),
        "receipt_amount": lambda: format_amount(receipt.amount, payment.currency),
        "receipt_method": lambda: receipt.get_method_display() or "Not recorded",
        "receipt_reference": lambda: receipt.reference,
        "paid_to_date": lambda: format_amount(paid_to_date(), payment.currency),
        "balance_owed": balance_owed,
    }


def sample_values(names) -> dict[str, str]:
    """Believable values of ``names`` for previews when there is no real object to show."""
    sample = {
        "first_name": "Alex",
        "last_name": "Smith",
        "full_name": "Alex Smith",
        "trainer_name": "Anna Kowalski",
        "studio_name": settings.STUDIO_NAME,
        "portal_link": f"{settings.SITE_URL}/portal/sample-token/",
        "booking_link": f"{settings.SITE_URL}/portal/sample-token/book/",
        "unsubscribe_link": f"{settings.SITE_URL}/unsubscribe/sample-token/",
        "session_date": "Tuesday 1 December 2026",
        "session_time": "09:00",
        "session_duration": "60 minutes",
        "session_location": "Studio A",
        "confirm_link": f"{settings.SITE_URL}/portal/sample-token/sessions/42/?action=confirm",
        "cancel_link": f"{settings.SITE_URL}/portal/sample-token/sessions/42/?action=cancel",
        "booked_by": "staff",
        "amount": format_amount(Decimal("45.00"), settings.CURRENCY),
        "amount_owed": format_amount(Decimal("25.00"), settings.CURRENCY),
        "due_date": "Tuesday 1 December 2026",
        "days_overdue": "3",
        "payment_description": "Training package",
        "fee_amount": format_amount(Decimal("20.00"), settings.CURRENCY),
        "credit_used": "",
        "credits_left": "4",
        "charge_outcome": "fee",
        "cancellation_policy": "Sessions can be cancelled free of charge up to 24 hours before they start. "
        f"A missed session costs {format_amount(Decimal('20.00'), settings.CURRENCY)}.",
        "package_name": "Ten sessions",
        "expires_on": "Tuesday 1 December 2026",
        # As for a real payment: empty while the studio takes no online payments.
        "pay_link": f"{settings.SITE_URL}/pay/sample-token/" if stripe_enabled() else "",
        "receipt_number": "R00042",
        "receipt_date": "Tuesday 1 December 2026",
        "receipt_amount": format_amount(Decimal("20.00"), settings.CURRENCY),
        "receipt_method": "Bank transfer",
        "receipt_reference": "FIT-0042",
        "paid_to_date": format_amount(Decimal("20.00"), settings.CURRENCY),
        "balance_owed": format_amount(Decimal("25.00"), settings.CURRENCY),
    }
    return {name: sample[name] for name in names}
