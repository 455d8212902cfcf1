"""Schedules: published pipelines started on a recurrence or when data changes (Azure ML's `Schedule`).

schedule_records.py  the schedule (what the user asked for) and its state (what has fired), stored apart
recurrence.py        when a recurrence fires: ScheduleRecurrence as UTC instants, wall-clock true in its time zone
runner.py            the schedules timer's tick: decide, record as pending (If-Match), start with a fixed run id
"""
