import pytest
from django.apps import apps
from django_q.models import Schedule

from automation import schedules as automation_schedules
from campaigns import schedules as campaign_schedules
from messaging import schedules as messaging_schedules

ALL = [automation_schedules, campaign_schedules, messaging_schedules]


@pytest.mark.django_db
@pytest.mark.parametrize("module", ALL, ids=lambda m: m.__name__)
def test_migrate_made_each_schedule_once_and_a_retuned_one_is_kept(module):
    assert Schedule.objects.filter(name=module.SCHEDULE_NAME).count() == 1
    Schedule.objects.filter(name=module.SCHEDULE_NAME).update(minutes=17)

    module.ensure_schedule(sender=apps.get_app_config(module.__name__.split(".")[0]))

    schedule = Schedule.objects.get(name=module.SCHEDULE_NAME)
    assert schedule.minutes == 17  # staff retuned it in the admin: never overwritten
    assert Schedule.objects.filter(name=module.SCHEDULE_NAME).count() == 1


@pytest.mark.django_db
def test_a_deleted_schedule_comes_back_on_the_next_migrate():
    Schedule.objects.filter(name=campaign_schedules.SCHEDULE_NAME).delete()
    campaign_schedules.ensure_schedule()
    assert (
        Schedule.objects.get(name=campaign_schedules.SCHEDULE_NAME).func == campaign_schedules.SCHEDULE_FUNC
    )
