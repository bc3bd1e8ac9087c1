"""Admin form pieces that turn malformed ids into form errors instead of 500s."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections


class _TolerantOptgroupsMixin:
    """Re-render a form whose posted id is not a valid key instead of crashing.

    Django's autocomplete widgets look the posted values up to label them; a
    value such as "abc", or a number too big for the column, makes that lookup
    raise (a 500) while the form only wanted to say "Select a valid choice".
    """

    def optgroups(self, name, value, attr=None):
        opts = self.field.remote_field.model._meta
        target = opts.get_field(getattr(self.field.remote_field, "field_name", None) or opts.pk.name)
        ops = connections[self.db or DEFAULT_DB_ALIAS].ops
        usable = []
        for raw in value:
            try:
                key = target.to_python(raw)
            except ValidationError:
                continue
            if isinstance(key, int):
                low, high = ops.integer_field_range(target.get_internal_type())
                if not low <= key <= high:
                    continue
            usable.append(raw)
        return super().optgroups(name, usable, attr)


class TolerantAutocompleteSelect(_TolerantOptgroupsMixin, AutocompleteSelect):
    pass


class TolerantAutocompleteSelectMultiple(_TolerantOptgroupsMixin, AutocompleteSelectMultiple):
    pass


class RangeCheckedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses ids too big for the column as invalid, instead of letting the query overflow (a 500)."""

    def _check_values(self, value):
        opts = self.queryset.model._meta
        field = opts.get_field(self.to_field_name) if self.to_field_name else opts.pk
        if field.get_internal_type().endswith(("AutoField", "IntegerField")):
            low, high = connections[self.queryset.db].ops.integer_field_range(field.get_internal_type())
            for raw in value:
                try:
                    out_of_range = not low <= int(str(raw)) <= high
                except ValueError:
                    continue  # Django's own check says "not a valid value"
                if out_of_range:
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": raw}
                    )
        return super()._check_values(value)
