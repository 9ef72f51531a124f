"""The embedded servers a newcomer gets: start, reuse, persist across restarts, stop."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import redis

from deploy import devservices

pytestmark = pytest.mark.slow


@pytest.fixture
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devdata")


def test_postgres_starts_persists_and_is_reused(data_root: Path) -> None:
    data_dir = data_root / "postgres"
    port = devservices._free_port(55439)
    try:
        url = devservices.ensure_postgres(data_dir, port=port, database="probe")
        assert url == f"postgresql://postgres@127.0.0.1:{port}/probe"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('survives')")
            version = conn.execute("SHOW server_version_num").fetchone()
            assert version is not None and int(version[0]) >= 180000

        started = time.perf_counter()
        assert devservices.ensure_postgres(data_dir, port=port, database="probe") == url
        assert time.perf_counter() - started < 1  # reused, not restarted

        assert devservices.stop_postgres(data_dir) is True
        assert devservices.stop_postgres(data_dir) is False
        url = devservices.ensure_postgres(data_dir, port=port, database="probe")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("survives",)]
    finally:
        devservices.stop_postgres(data_dir)


def test_redis_starts_persists_and_is_reused(data_root: Path) -> None:
    data_dir = data_root / "redis"
    port = devservices._free_port(63799)
    try:
        url = devservices.ensure_redis(data_dir, port=port)
        assert url == f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        client.set("kept", "survives")
        assert devservices.ensure_redis(data_dir, port=port) == url
        assert devservices.stop_redis(data_dir) is True
        assert devservices.stop_redis(data_dir) is False
        url = devservices.ensure_redis(data_dir, port=port)
        assert redis.Redis.from_url(url).get("kept") == b"survives"
    finally:
        devservices.stop_redis(data_dir)


def test_a_taken_port_moves_to_a_free_one(data_root: Path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        data_dir = data_root / "redis-moved"
        try:
            url = devservices.ensure_redis(data_dir, port=taken)
            assert url != f"redis://127.0.0.1:{taken}/0"
            assert redis.Redis.from_url(url).ping()
        finally:
            devservices.stop_redis(data_dir)


def test_cli_prints_urls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devservices, "ensure_postgres", lambda: "postgresql://x/kestrel")
    monkeypatch.setattr(devservices, "ensure_redis", lambda: "redis://y/0")
    assert devservices.main(["devservices", "env"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "DATABASE_URL=postgresql://x/kestrel",
        "REDIS_URL=redis://y/0",
    ]
    assert devservices.main(["devservices", "nonsense"]) == 2
