"""`make dev`: the whole product on one machine.

Starts (or reuses) the embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL point
elsewhere, brings the database up to date, makes the demo organisation, then runs the web
server, a Celery worker and beat together. Ctrl-C stops all three; data stays in .devdata/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    env.setdefault("PYTHONUNBUFFERED", "1")
    if not env.get("DATABASE_URL") or not env.get("REDIS_URL"):
        sys.path.insert(0, str(ROOT))
        from deploy import devservices

        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = devservices.ensure_postgres()
            print(f"embedded PostgreSQL: {env['DATABASE_URL']}", flush=True)
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = devservices.ensure_redis()
            print(f"embedded Redis:      {env['REDIS_URL']}", flush=True)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def process_commands(*, port: str) -> dict[str, list[str]]:
    """The three processes: like the deployment's (docker-compose.yml, the Helm chart), the
    worker serves the default queue and every organisation's reminders and reports queues."""
    return {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config.celery_app",
            "worker",
            "-l",
            "info",
            "--tenant-queues",
            "reminders,reports",
            "-Q",
            "default",
            "--concurrency",
            "2",
        ],
        "beat": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config.celery_app",
            "beat",
            "-l",
            "info",
            "--schedule",
            str(ROOT / ".devdata" / "celerybeat-schedule"),
        ],
    }


def main() -> int:
    # Ctrl-C must reach us even when started from a shell that ignores SIGINT for background
    # jobs (Python would otherwise inherit the "ignore" and never raise KeyboardInterrupt).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    env = _environment()
    _manage(env, "migrate_schemas", "--noinput", "-v", "0")
    _manage(env, "seed_demo")
    port = env.get("PORT", "8000")
    commands = process_commands(port=port)
    (ROOT / ".devdata").mkdir(exist_ok=True)
    processes = {
        name: subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        for name, command in commands.items()
    }
    print(
        f"\nKestrel is running: http://localhost:{port}/  (Ctrl-C stops everything)\n", flush=True
    )

    def stop(*_: object) -> None:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def terminate(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"{name} exited with {process.returncode}; stopping the rest.", flush=True
                    )
                    stop()
                    return process.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping web, worker and beat...", flush=True)
        stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
