"""Settings of the real Celery worker and beat processes started by tests/workers/conftest.py.

The test settings, except that tasks go through the broker (the private Redis named by
REDIS_URL), results are kept there too (chords need them), the probe tasks are loaded (with
a "probe" kind of scheduled job), and workers look for new or suspended organisations'
queues every second instead of every five.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BEAT_SCHEDULE as _FULL_BEAT_SCHEDULE
from config.settings.test import KESTREL_JOB_TASKS as _JOB_TASKS

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = os.environ["REDIS_URL"]
CELERY_RESULT_BACKEND = os.environ["REDIS_URL"]  # type: ignore[assignment]  # None for the product
# delivery_hold: a pause inside notification inserts that a test can switch on (its docstring).
CELERY_IMPORTS = ("tests.workers.probe_tasks", "tests.workers.delivery_hold")
KESTREL_QUEUE_REFRESH_SECONDS = 1
# Scheduled jobs of kind "probe" are delivered by a probe task (tests/workers/probe_tasks.py).
KESTREL_JOB_TASKS = {**_JOB_TASKS, "probe": "tests.workers.probe_tasks.deliver_due_probes"}

# Beat runs only the entries a test asks for (comma-separated names of the product's
# schedule), so it never fills the test database with spare schemas behind the tests' back.
_BEAT_ENTRIES = {n for n in os.environ.get("KESTREL_TEST_BEAT_ENTRIES", "").split(",") if n}
CELERY_BEAT_SCHEDULE = {k: v for k, v in _FULL_BEAT_SCHEDULE.items() if k in _BEAT_ENTRIES}


def _die_with_the_test_run(parent: int) -> None:
    """A test run that is killed cannot stop its workers; they stop themselves (the whole
    process group, pool children included), so none is left holding the test database."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.killpg(os.getpgrp(), signal.SIGKILL)


_parent = os.environ.get("KESTREL_TEST_PARENT_PID", "")
if _parent.isdigit() and os.getppid() == int(_parent):
    # Only in the process the test run started (pool children have another parent).
    threading.Thread(target=_die_with_the_test_run, args=(int(_parent),), daemon=True).start()
