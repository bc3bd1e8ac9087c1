"""Periodic django-q2 schedules: created once, by name, never overwritten.

Each app that needs one connects :func:`ensure_schedule` to ``post_migrate``
(``migrate`` creates it on a new install). A schedule that already exists is left
as it is, because staff may have retuned its interval in the admin.
"""

from django_q.models import Schedule


def ensure_schedule(*, name: str, func: str, minutes: int, using: str = "default") -> Schedule:
    schedule, _ = Schedule.objects.using(using).get_or_create(
        name=name,
        defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1},
    )
    return schedule
