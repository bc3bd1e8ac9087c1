"""The template language refuses, at save time, whatever would fail when rendered.

Filter arguments (cause 1 of the hardening issue) and size/nesting (cause 3). The
generated-template properties live in tests/security/test_template_properties.py.
"""

import pytest
from django.core.exceptions import ValidationError
from django.template.base import Template

from messaging import templating

ALLOWED = templating.CLIENT_VARIABLES


def messages_for(text):
    with pytest.raises(ValidationError) as exc:
        templating.validate_template(text, allowed=ALLOWED)
    return " ".join(exc.value.messages)


@pytest.mark.parametrize(
    "text, filter_name",
    [
        ("Hi {{ first_name|wordwrap:0 }}", "wordwrap"),
        ("Hi {{ first_name|wordwrap:-5 }}", "wordwrap"),
        ('Hi {{ first_name|wordwrap:"x" }}', "wordwrap"),
        ("Hi {{ first_name|wordwrap:first_name }}", "wordwrap"),
        ("Hi {{ first_name|wordwrap:1.5 }}", "wordwrap"),
        ("Hi {{ first_name|truncatechars:1e999 }}", "truncatechars"),
        ("Hi {{ first_name|truncatechars:-1e999 }}", "truncatechars"),
        ("Hi {{ first_name|truncatewords:1e999 }}", "truncatewords"),
        ("Hi {{ first_name|truncatewords:99999999 }}", "truncatewords"),
        ("Hi {{ first_name|truncatechars:0 }}", "truncatechars"),
        ("Hi {{ first_name|yesno:5 }}", "yesno"),
        ("Hi {{ first_name|cut:5 }}", "cut"),
        ("Hi {{ first_name|cut:_('x') }}", "cut"),
        ("Hi {{ first_name|pluralize:1 }}", "pluralize"),
        ("{% if first_name|wordwrap:0 %}x{% endif %}", "wordwrap"),
        ("{% firstof last_name|cut:2 first_name %}", "cut"),
    ],
)
def test_a_filter_argument_that_would_fail_at_render_time_is_refused_naming_the_filter(text, filter_name):
    # Before: each of these validated, then raised ValueError/TypeError/OverflowError on render.
    assert f"The filter '{filter_name}'" in messages_for(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{ first_name|wordwrap:2 }}", "Alex"),
        ("{{ full_name|truncatechars:4 }}", "Ale…"),
        ("{{ full_name|truncatewords:1 }}", "Alex …"),
        ('{{ full_name|cut:" " }}', "AlexSmith"),
        ('{{ first_name|yesno:"y,n" }}', "y"),
        ("{{ first_name|yesno:'a,b,c,d' }}", "a"),  # odd arguments: Django's own fallback
        ('{{ studio_name|pluralize:"es" }}', ""),
        ("{{ first_name|default:5 }}", "Alex"),
        ("{{ first_name|yesno:last_name }}", "Alex"),
    ],
)
def test_usable_filter_arguments_are_still_accepted(text, expected):
    template = templating.validate_template(text, allowed=ALLOWED)
    assert templating.render(template, templating.sample_values(ALLOWED)) == expected


def test_every_allowed_filter_has_an_argument_rule():
    assert set(templating.ALLOWED_FILTERS) == set(templating._library.filters)
    assert set(templating.FILTER_ARGUMENTS) == set(templating.ALLOWED_FILTERS)


def test_a_stored_template_that_cannot_render_is_a_validation_error_not_a_crash():
    # Saved before the argument checks existed: compiled without them.
    template = Template("Hi {{ first_name|wordwrap:0 }}", engine=templating.ENGINE)
    with pytest.raises(ValidationError, match="cannot be rendered.*invalid width 0"):
        templating.render(template, {"first_name": "Alex"})


def test_a_filter_argument_naming_an_absent_variable_renders_empty():
    template = templating.validate_template("{{ first_name|default:last_name }}!", allowed=ALLOWED)
    assert templating.render(template, {}) == "!"


# --- Size and nesting (cause 3) ------------------------------------------------------------


def nested_ifs(depth, inner="{{ first_name }}"):
    return "{% if first_name %}" * depth + inner + "{% endif %}" * depth


@pytest.mark.parametrize(
    "text, fragment",
    [
        (nested_ifs(2000), "too long"),
        ("{%if x%}" * 2000, "nested too deeply"),
        (nested_ifs(350), "nested too deeply"),
        (nested_ifs(templating.MAX_NESTING + 1), "nested too deeply"),
        ("{% if " + " and ".join(["first_name"] * 5000) + " %}x{% endif %}", "too long"),
        ("{% if " + " or ".join(["first_name"] * 200) + " %}x{% endif %}", "the condition is too long"),
        ("{% if " + "not " * 3000 + "first_name %}x{% endif %}", "the condition is too long"),
        ("{% if x %}{% elif " + "not " * 30 + "first_name %}x{% endif %}", "the condition is too long"),
        ("x" * (templating.MAX_LENGTH + 1), "too long"),
    ],
)
def test_templates_too_deep_or_too_long_are_a_form_error_not_a_recursion_error(text, fragment):
    # Before: RecursionError on save (2,000 ifs, 5,000 and, 3,000 not) or on render (350 ifs).
    assert fragment in messages_for(text)


def test_the_largest_accepted_nesting_and_condition_render_even_on_a_deep_stack():
    deepest = nested_ifs(templating.MAX_NESTING)
    widest = (
        "{% if " + " and ".join(["not first_name"] * (templating.MAX_CONDITION_OPERATORS // 2)) + " %}"
        "a{% else %}b{% endif %}"
    )
    context = templating.sample_values(ALLOWED)

    def render_at_depth(levels):
        if levels:
            return render_at_depth(levels - 1)
        return [
            templating.render(templating.validate_template(t, allowed=ALLOWED), context)
            for t in (deepest, widest)
        ]

    # A render deep inside the admin's own call stack still has room.
    assert render_at_depth(300) == ["Alex", "b"]


def test_tags_inside_a_comment_are_not_counted_as_nesting():
    text = "{% comment %}" + "{% if x %}" * 50 + "{% endcomment %}Hi {{ first_name }}"
    assert (
        templating.render(templating.validate_template(text, allowed=ALLOWED), {"first_name": "A"}) == "Hi A"
    )


def test_the_engine_refuses_a_stored_template_beyond_the_limits_instead_of_recursing():
    with pytest.raises(ValidationError, match="nested too deeply"):
        templating.compile_template(nested_ifs(350))
