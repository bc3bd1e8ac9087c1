"""Status changes checked against the row as it is in the database, not as it was read."""

from django.core.exceptions import ValidationError


def locked_transition(obj, new_status: str, allowed: dict) -> str:
    """Refresh ``obj.status`` from its row, locked until the transaction ends, and check
    that ``allowed[current]`` contains ``new_status``; else ``ValidationError``.

    Two people (or a person and a scan) acting on one row at once: the second waits
    for the first and then sees its change, so a payment cancelled a moment ago
    cannot still be marked paid, and a cancelled session stays cancelled.
    Call it inside ``transaction.atomic``. Returns the status the row had.
    """
    model = type(obj)
    if obj.pk:
        obj.status = (
            model._default_manager.select_for_update().values_list("status", flat=True).get(pk=obj.pk)
        )
    if new_status not in allowed[obj.status]:
        current = obj.get_status_display().lower()
        article = "An" if current[0] in "aeiou" else "A"
        wanted = model._meta.get_field("status").choices
        label = dict(wanted)[new_status].lower()
        raise ValidationError(
            f"{article} {current} {model._meta.verbose_name} cannot be marked {label}.",
            code="invalid_transition",
        )
    return obj.status
