"""The one-second dispatcher stays out of the worker's and beat's logs unless it sent work."""

from __future__ import annotations

import logging

from config.celery_app import DISPATCHER, QuietDispatcher


def _record(msg: str, args: object) -> logging.LogRecord:
    record = logging.LogRecord("celery", logging.INFO, __file__, 1, msg, None, None)
    record.args = args  # type: ignore[assignment]
    return record


def test_idle_dispatcher_lines_are_dropped_and_others_kept() -> None:
    quiet = QuietDispatcher()
    sent = "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
    assert not quiet.filter(_record(sent, {"name": DISPATCHER, "id": "1", "return_value": 0}))
    assert quiet.filter(_record(sent, {"name": DISPATCHER, "id": "1", "return_value": 3}))
    received = "Task %(name)s[%(id)s] received"
    assert not quiet.filter(_record(received, {"name": DISPATCHER, "id": "1"}))
    beat = "Scheduler: Sending due task %s (%s)"
    assert not quiet.filter(_record(beat, ("tenants-dispatch-due-jobs", DISPATCHER)))
    other = {"name": "activities.tasks.deliver_due_reminders", "id": "2", "return_value": 0}
    assert quiet.filter(_record(sent, other))
    assert quiet.filter(_record(beat, ("core-prune-expired", "core.tasks.prune_expired")))
