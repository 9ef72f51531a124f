"""The embedded servers a newcomer gets: start, reuse, persist across restarts, stop.

Every test works in a temporary data folder on ports of its own, so the servers a developer
has running under .devdata/ are never touched. The module needs no Django, so this file
runs without it too: `python -m pytest tests/deploy/test_devservices.py -p no:django
--noconftest`.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from deploy import devservices

pytestmark = pytest.mark.slow

ROOT = Path(devservices.__file__).resolve().parent.parent


class Servers:
    """Data folders and preferred ports for one test; stops whatever it started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.postgres_dir = root / "postgres"
        self.redis_dir = root / "redis"
        # Spread out so concurrent runs (and the developer's own servers) rarely collide;
        # a collision would only move a server to a neighbouring port anyway.
        self.postgres_port = devservices._pick_port(random.randrange(55000, 57000))
        self.redis_port = devservices._pick_port(random.randrange(57000, 59000))

    def postgres(self, database: str = devservices.DATABASE_NAME) -> str:
        return devservices.ensure_postgres(self.postgres_dir, self.postgres_port, database)

    def redis(self) -> str:
        return devservices.ensure_redis(self.redis_dir, self.redis_port)


@pytest.fixture
def servers() -> Iterator[Servers]:
    # Not pytest's tmp_path: another pytest run on the machine resets the mode of pytest's
    # shared base folder, which would lock the PostgreSQL server account out mid-test.
    base = Path(tempfile.mkdtemp(prefix="kestrel-devservices-"))
    servers = Servers(base / "devdata")
    try:
        yield servers
    finally:
        devservices.stop_all(servers.postgres_dir, servers.redis_dir)
        shutil.rmtree(base, ignore_errors=True)


def _postmasters(data_dir: Path) -> list[int]:
    """Server processes started on `data_dir`.

    A child the server has just forked still shows the server's command line for a moment,
    so only processes whose parent is not one of them count.
    """
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        if cmdline[0].endswith(b"/postgres") and str(data_dir).encode() in cmdline:
            parents[int(entry.name)] = int(stat_line.rpartition(")")[2].split()[1])
    return sorted(pid for pid, parent in parents.items() if parent not in parents)


def _proc_ids(pid: int) -> tuple[int, int]:
    """Real uid and gid of a process."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def test_postgres_starts_takes_extensions_and_keeps_data_across_a_restart(
    servers: Servers,
) -> None:
    url = servers.postgres()
    assert url == f"postgresql://postgres@127.0.0.1:{servers.postgres_port}/kestrel"
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        assert version is not None and int(version[0]) // 10000 == 18
        conn.execute("CREATE EXTENSION pg_trgm")
        conn.execute("CREATE EXTENSION unaccent")
        # Accented letters count as letters for trigram search, and unaccent folds them.
        row = conn.execute("SELECT similarity('Zoë', 'Zoë'), unaccent('Zoë Ångström')").fetchone()
        assert row == (1.0, "Zoe Angstrom")
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('survives')")

    assert devservices.stop_postgres(servers.postgres_dir) is True
    assert devservices.status(servers.postgres_dir, servers.redis_dir)["postgres"] == "stopped"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()

    # Defaults only: the recorded port is what brings the same URL back.
    assert devservices.ensure_postgres(servers.postgres_dir) == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("survives",)]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="root only")
def test_as_root_the_server_runs_as_an_unprivileged_account(servers: Servers) -> None:
    servers.postgres()
    (pid,) = _postmasters(servers.postgres_dir)
    uid, gid = _proc_ids(pid)
    assert uid != 0 and gid != 0
    assert servers.postgres_dir.stat().st_uid == uid


def test_a_second_call_reuses_the_running_server_quickly(servers: Servers) -> None:
    url = servers.postgres()
    (pid,) = _postmasters(servers.postgres_dir)

    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert servers.postgres() == url
        timings.append(time.perf_counter() - started)
    # A few milliseconds in practice; the bound leaves room for a loaded CI machine.
    assert min(timings) < 0.05
    assert _postmasters(servers.postgres_dir) == [pid]


def test_another_database_is_created_on_request(servers: Servers) -> None:
    servers.postgres()
    url = servers.postgres("other")
    assert url.endswith("/other")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("other",)


def test_concurrent_starters_share_one_server_that_outlives_them(servers: Servers) -> None:
    script = (
        "import sys; from pathlib import Path; from deploy import devservices; "
        "print(devservices.ensure_postgres(Path(sys.argv[1]), int(sys.argv[2])))"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(servers.postgres_dir), str(servers.postgres_port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    urls = {starter.communicate(timeout=120)[0].strip() for starter in starters}
    assert all(starter.returncode == 0 for starter in starters)
    assert len(urls) == 1
    assert len(_postmasters(servers.postgres_dir)) == 1
    # Every process that started or found the server has exited; the server must not have
    # gone with them.
    with psycopg.connect(urls.pop()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_postgres_comes_back_after_a_crash(servers: Servers) -> None:
    url = servers.postgres()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('committed')")
    (pid,) = _postmasters(servers.postgres_dir)
    os.kill(pid, signal.SIGKILL)  # leaves postmaster.pid behind
    # SIGKILL lands asynchronously; until then the dying server still accepts connections.
    assert devservices._wait_for_exit(pid, "postgres", timeout=10)

    assert servers.postgres() == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("committed",)]


def test_postgres_data_from_another_major_version_is_explained(servers: Servers) -> None:
    servers.postgres_dir.mkdir(parents=True)
    (servers.postgres_dir / "PG_VERSION").write_text("16\n")
    with pytest.raises(devservices.DevServiceError, match="PostgreSQL 16 data"):
        servers.postgres()


def test_redis_keeps_data_across_a_restart_and_reuses_the_running_server(
    servers: Servers,
) -> None:
    url = servers.redis()
    assert url == f"redis://127.0.0.1:{servers.redis_port}/0"
    redis.Redis.from_url(url).set("kept", "survives")

    started = time.perf_counter()
    assert servers.redis() == url
    assert time.perf_counter() - started < 0.05

    assert devservices.stop_redis(servers.redis_dir) is True
    assert devservices.stop_redis(servers.redis_dir) is False
    assert devservices.ensure_redis(servers.redis_dir) == url
    assert redis.Redis.from_url(url).get("kept") == b"survives"


def test_a_stale_redis_pid_file_does_not_block_a_start(servers: Servers) -> None:
    servers.redis_dir.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (servers.redis_dir / "redis.pid").write_text(f"{dead.pid}\n")
    assert redis.Redis.from_url(servers.redis()).ping()


def test_a_taken_port_moves_to_a_neighbour_which_is_then_kept(servers: Servers) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", servers.redis_port))
        squatter.listen()
        url = servers.redis()
        assert url != f"redis://127.0.0.1:{servers.redis_port}/0"
        assert redis.Redis.from_url(url).ping()
    devservices.stop_redis(servers.redis_dir)
    # The preferred port is free again, but the URL everyone was given stays valid.
    assert devservices.ensure_redis(servers.redis_dir) == url


def test_status_and_stop_when_nothing_runs(tmp_path: Path) -> None:
    assert devservices.status(tmp_path / "postgres", tmp_path / "redis") == {
        "postgres": "stopped",
        "redis": "stopped",
    }
    assert devservices.stop_postgres(tmp_path / "postgres") is False
    assert devservices.stop_redis(tmp_path / "redis") is False


def test_cli_env_status_and_stop(servers: Servers) -> None:
    def cli(*args: str) -> list[str]:
        # Captured through pipes, as `$(...)` in a Makefile does: the servers started must
        # not hold the pipe open, or this would wait until they exit.
        finished = subprocess.run(
            [sys.executable, "-m", "deploy.devservices", "--devdata", str(servers.root), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return finished.stdout.splitlines()

    ports = ["--postgres-port", str(servers.postgres_port)]
    ports += ["--redis-port", str(servers.redis_port)]
    lines = cli("env", *ports)
    assert lines == [
        f"DATABASE_URL=postgresql://postgres@127.0.0.1:{servers.postgres_port}/kestrel",
        f"REDIS_URL=redis://127.0.0.1:{servers.redis_port}/0",
    ]
    assert cli("env") == lines  # the recorded ports, without being told them again
    database_url, redis_url = (line.split("=", 1)[1] for line in lines)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert redis.Redis.from_url(redis_url).ping()

    status = cli("status")
    assert status[0].startswith(f"postgres: running at {database_url}")
    assert status[1].startswith(f"redis: running at {redis_url}")
    assert cli("stop") == ["embedded PostgreSQL: stopped", "embedded Redis: stopped"]
    assert cli("status") == ["postgres: stopped", "redis: stopped"]


def test_cli_reports_errors_without_a_traceback(
    servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    servers.postgres_dir.mkdir(parents=True)
    (servers.postgres_dir / "PG_VERSION").write_text("16\n")
    assert devservices.main(["--devdata", str(servers.root), "env"]) == 1
    assert "PostgreSQL 16 data" in capsys.readouterr().err
