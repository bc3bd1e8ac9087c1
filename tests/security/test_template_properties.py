"""Generated templates against the restricted template language (Hypothesis).

Templates are built from the language's grammar (the allowed tags and filters with
arguments of every kind, known, unknown and dotted variables, nesting, conditions with
many operators, forbidden tags, stray braces and random text). Two properties:

1. validation never raises anything but ``ValidationError`` (no ``RecursionError``,
   ``ValueError``, ``OverflowError``...);
2. whatever validation accepts renders, with any values (or none) for its variables.

Modest example counts and no deadline keep it quick enough for CI; no example database
is written.
"""

from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging import templating

ALLOWED = sorted(templating.CLIENT_VARIABLES)
PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text that stays inside a quoted literal: no quote or backslash to end it early.
quoted_text = st.text(st.characters(blacklist_characters="\"'\\", blacklist_categories=("Cs",)), max_size=12)
numbers = st.one_of(
    st.integers(-10, 20),
    st.integers(-(10**30), 10**30),
    st.sampled_from(["1e999", "-1e999", "1.5", "0.0", "1e5", "-0", "99999999999999999999"]),
)
operators = st.sampled_from(["and", "or", "==", "!=", "<", ">=", "in", "not in", "is", "is not"])
#: Conditions around the operator limit, cheap to draw.
long_conditions = st.tuples(st.integers(0, 60), st.sampled_from(["and", "or", "==", "and not"])).map(
    lambda c: " ".join(["first_name"] + [f"{c[1]} first_name"] * c[0])
)
random_text = st.text(
    st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(list("{}%#|:\"' \n"))), max_size=20
)
plain_text = st.text(st.characters(blacklist_characters="{}%#", blacklist_categories=("Cs",)), max_size=20)
TAKES_NO_ARGUMENT = [n for n, kind in templating.FILTER_ARGUMENTS.items() if kind == templating.NO_ARGUMENT]
TAKES_ONE = [n for n in templating.ALLOWED_FILTERS if n not in TAKES_NO_ARGUMENT]


def grammar(*, hostile: bool):
    """Templates from the language's grammar.

    ``hostile``: also unknown and dotted names, forbidden filters and tags, wrong
    argument counts and stray braces (mostly refused); otherwise only what is well
    formed (mostly accepted, so that rendering is really exercised), with filter
    arguments of every kind either way.
    """
    names = st.sampled_from(ALLOWED)
    if hostile:
        names = names | st.sampled_from(
            ["nickname", "client.trainer.password", "first_name.upper", "_secret", "True", "None"]
        )
    arguments = st.one_of(
        numbers.map(str),
        quoted_text.map(lambda t: f'"{t}"'),
        quoted_text.map(lambda t: f"'{t}'"),
        quoted_text.map(lambda t: f'_("{t}")'),
        names,
    )
    filters = st.one_of(
        st.sampled_from(TAKES_NO_ARGUMENT).map(lambda name: f"|{name}"),
        st.tuples(st.sampled_from(TAKES_ONE), arguments).map(lambda f: f"|{f[0]}:{f[1]}"),
    )
    if hostile:
        filters = filters | st.tuples(
            st.sampled_from([*templating.ALLOWED_FILTERS, "date", "safe", "length", "add"]),
            st.one_of(st.none(), arguments),
        ).map(lambda f: f"|{f[0]}" if f[1] is None else f"|{f[0]}:{f[1]}")
    expressions = st.tuples(
        st.one_of(names, numbers.map(str), quoted_text.map(lambda t: f'"{t}"')), st.lists(filters, max_size=3)
    ).map(lambda e: e[0] + "".join(e[1]))

    @st.composite
    def conditions(draw):
        parts = [draw(expressions)]
        for _ in range(draw(st.integers(0, 5))):
            parts += [draw(operators), "not " * draw(st.integers(0, 2)) + draw(expressions)]
        return " ".join(parts)

    text = random_text if hostile else plain_text
    leaves = st.one_of(
        text,
        expressions.map(lambda e: "{{ " + e + " }}"),
        st.lists(expressions, min_size=1, max_size=4).map(lambda es: "{% firstof " + " ".join(es) + " %}"),
        text.map(lambda t: "{# " + t.replace("#}", "") + " #}"),
        text.map(lambda t: "{% comment %}" + t + "{% endcomment %}"),
    )
    if hostile:
        leaves = leaves | st.sampled_from(
            [
                "{% load static %}",
                "{% for x in y %}x{% endfor %}",
                "{% debug %}",
                "{{",
                "{% if %}",
                "{% endif %}",
            ]
        )

    def if_block(parts):
        condition, body, elifs, otherwise = parts
        text = "{% if " + condition + " %}" + body
        for elif_condition, elif_body in elifs:
            text += "{% elif " + elif_condition + " %}" + elif_body
        if otherwise is not None:
            text += "{% else %}" + otherwise
        return text + "{% endif %}"

    def blocks(children):
        return st.one_of(
            st.lists(children, max_size=4).map("".join),
            st.tuples(
                conditions() | long_conditions,
                children,
                st.lists(st.tuples(conditions(), children), max_size=2),
                st.none() | children,
            ).map(if_block),
        )

    return st.recursive(leaves, blocks, max_leaves=20)


deep_templates = st.tuples(st.integers(0, 400), st.sampled_from(["{% if first_name %}", "{%if x%}"])).map(
    lambda d: d[1] * d[0] + "x" + "{% endif %}" * d[0]
)
contexts = st.dictionaries(st.sampled_from(ALLOWED), st.text(max_size=30))


def validated(text):
    try:
        return templating.validate_template(text, allowed=ALLOWED)
    except ValidationError as exc:
        assert exc.messages, "a refusal always says why"
        return None


@PROPERTY
@given(
    text=st.one_of(grammar(hostile=False), grammar(hostile=True), deep_templates, random_text),
    context=contexts,
)
def test_a_generated_template_is_refused_with_a_reason_or_renders_with_any_values(text, context):
    template = validated(text)
    if template is not None:
        assert isinstance(templating.render(template, context), str)


@PROPERTY
@given(
    name=st.sampled_from(ALLOWED),
    chain=st.lists(
        st.tuples(
            st.sampled_from(templating.ALLOWED_FILTERS), st.one_of(numbers.map(str), quoted_text.map(repr))
        ),
        min_size=1,
        max_size=3,
    ),
    context=contexts,
)
def test_every_filter_with_any_argument_is_refused_naming_it_or_renders(name, chain, context):
    text = "{{ " + name + "".join(f"|{f}:{arg}" for f, arg in chain) + " }}"
    try:
        template = templating.validate_template(text, allowed=ALLOWED)
    except ValidationError as exc:
        assert any(
            f"'{f}'" in " ".join(exc.messages) or "requires" in " ".join(exc.messages) for f, _ in chain
        )
        return
    assert isinstance(templating.render(template, context), str)
