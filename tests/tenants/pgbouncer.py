"""A real PgBouncer in transaction pooling mode, on a free loopback port, in front of the
test database (Debian package `pgbouncer`; CI installs it).

`PgBouncer(dbname).start()` writes an ini into a private directory and runs
/usr/sbin/pgbouncer with it: pool_mode=transaction and one server connection per
database/user pair (`max_db_connections = 1`), so every client of it shares that one server
connection, one transaction after another. A client left waiting for it gives up after
`query_wait_timeout` (10 s) instead of hanging the test run. Run as root, PgBouncer (which
refuses to run as root) switches to the `postgres` (else `nobody`) user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BINARY = os.environ.get("PGBOUNCER", "/usr/sbin/pgbouncer")
START_TIMEOUT = 15.0


def available() -> bool:
    return os.access(BINARY, os.X_OK)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None  # pragma: no cover - every Debian system has nobody


class PgBouncer:
    def __init__(
        self,
        dbname: str,
        *,
        server_host: str = "127.0.0.1",
        server_port: int = 5432,
        user: str = "postgres",
        password: str = "",
        pool_size: int = 1,
    ) -> None:
        self.dbname = dbname
        self.server_host = server_host
        self.server_port = server_port
        self.user = user
        self.password = password
        self.pool_size = pool_size
        self.host = "127.0.0.1"
        self.port = 0
        self.directory = Path(tempfile.mkdtemp(prefix="kestrel-pgbouncer-"))
        self.log = self.directory / "pgbouncer.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, dbname: str | None = None) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname or self.dbname}"

    def _write_config(self) -> Path:
        self.port = _free_port()
        userlist = self.directory / "userlist.txt"
        userlist.write_text(f'"{self.user}" ""\n')  # clients are trusted (loopback)
        server = f"host={self.server_host} port={self.server_port}"
        if self.password:  # what PgBouncer logs in to PostgreSQL with
            server += f" user={self.user} password={self.password}"
        ini = self.directory / "pgbouncer.ini"
        ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = {server}",
                    "[pgbouncer]",
                    f"listen_addr = {self.host}",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {userlist}",
                    f"admin_users = {self.user}",
                    "pool_mode = transaction",
                    f"default_pool_size = {self.pool_size}",
                    "min_pool_size = 0",
                    "reserve_pool_size = 0",
                    f"max_db_connections = {self.pool_size}",
                    "max_client_conn = 100",
                    "query_wait_timeout = 10",
                    "ignore_startup_parameters = extra_float_digits",
                    "",
                ]
            )
        )
        self.directory.chmod(0o755)
        for path in (userlist, ini):
            path.chmod(0o644)
        return ini

    def start(self) -> PgBouncer:
        ini = self._write_config()
        argv = [BINARY]
        run_as = _run_as()
        if run_as:
            argv += ["--user", run_as]
        argv.append(str(ini))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start:\n{self.log_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer not listening after {START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)
