"""The staff calendar (week, day and list views over sessions) and the trainers' iCalendar feeds."""
