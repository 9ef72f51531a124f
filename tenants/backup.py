"""One organisation's backup: an archive of its schema, its files and a manifest, and the
restore of such an archive into a new organisation.

The archive (`<slug>-<UTC time>.tar.gz`) holds, in this order:

- `manifest.json`: the organisation (slug, name, schema, plan, status, domains, dates), the
  migrations its schema had, the row count of every table, the scheduled jobs it had waiting
  (they live in the public schema), the dump's size and SHA-256, and every file's size and
  SHA-256;
- `schema.sql`: `pg_dump --schema=<schema> --no-owner --no-privileges`, plain SQL;
- `files/...`: its uploaded files (MEDIA_ROOT/<schema>/).

The row counts, the scheduled jobs and the dump are read from one exported snapshot, so they
agree with each other even while the organisation is being written to.

Restoring creates a new organisation with a new slug (never over an existing one). pg_dump
qualifies every object with the schema's name, so the dump is loaded with that name rewritten
to the new schema's in the SQL between row blocks, never in the rows themselves (COPY data is
streamed untouched). That is safe because an organisation's DDL is the product's own, made by
its migrations and the same in every organisation: the schema's name occurs in it only as the
qualifier of a name. Loading into a scratch database and renaming the schema there would need
the right to create databases and twice the work; instead, the restore checks what it loaded
before anything is committed: every table of the manifest with its row count, and no object
of the new schema depending on anything in the old one. The schema, its rows, the Tenant and
Domain rows, the scheduled jobs and the audit event are written in ONE transaction, so a
failure anywhere leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils.dateparse import parse_datetime

from .audit import audit_record
from .db import connection
from .models import Domain, Plan, ScheduledJob, Tenant, TenantStatus

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "schema.sql"
FILES = "files/"
PARTIAL_PREFIX = ".partial-"

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message tells the operator why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    seconds: float
    manifest: dict[str, Any]


@dataclass(frozen=True)
class RestoreResult:
    tenant: Tenant
    seconds: float
    migrated: list[str]
    files: int


def _quiet(message: str) -> None:
    return None


def backup_dir() -> Path:
    return Path(settings.KESTREL_BACKUP_DIR)


def _human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover - the loop returns


# --- the PostgreSQL client ------------------------------------------------------------------


def _db() -> dict[str, Any]:
    return dict(settings.DATABASES["default"])


def client_env() -> dict[str, str]:
    """Environment for pg_dump: the connection of DATABASES["default"], the password in
    PGPASSWORD (never on a command line, where any user of the machine could read it)."""
    db = _db()
    env = dict(os.environ)
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        value = db.get(key)
        if value:
            env[variable] = str(value)
        else:
            env.pop(variable, None)
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _connect() -> psycopg.Connection[Any]:
    """A connection of our own (not Django's), for the snapshot the backup reads from."""
    db = _db()
    params: dict[str, Any] = {
        "dbname": db.get("NAME") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        params["sslmode"] = sslmode
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None})


def find_program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} was not found on PATH: install the PostgreSQL client (for example "
            f"`apt-get install postgresql-client`), of the server's major version or newer."
        )
    return found


def program_version(path: str) -> tuple[int, str]:
    """(major version, the version line) of a PostgreSQL client program."""
    try:
        line = subprocess.run(  # noqa: S603 - a fixed program from PATH, no shell
            [path, "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"could not run `{path} --version`: {exc}") from exc
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", line)
    if not match:
        raise BackupError(f"could not read the version of {path}: {line!r}")
    return int(match.group(1)), line


def server_version() -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num'), version()")
        number, text = cursor.fetchone()
    return int(number) // 10000, str(text)


def checked_pg_dump() -> tuple[str, str]:
    """pg_dump's path and version line, once it is known to be able to dump this server."""
    path = find_program("pg_dump")
    major, line = program_version(path)
    server_major, _ = server_version()
    if major < server_major:
        raise BackupError(
            f"{path} is version {major} but the PostgreSQL server is version {server_major}: "
            f"pg_dump must be of the server's major version or newer. Install "
            f"postgresql-client-{server_major} and put it first on PATH."
        )
    return path, line


# --- what a schema holds --------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_tables(cursor: Any, schema: str) -> list[str]:
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
        "AND relkind IN ('r', 'p') ORDER BY relname",
        [_q(schema)],
    )
    return [str(row[0]) for row in cursor.fetchall()]


def row_counts(cursor: Any, schema: str) -> dict[str, int]:
    counts = {}
    for table in schema_tables(cursor, schema):
        cursor.execute(f"SELECT count(*) FROM {_q(schema)}.{_q(table)}")
        counts[table] = int(cursor.fetchone()[0])
    return counts


def latest_migrations(applied: list[tuple[str, str]]) -> dict[str, str]:
    """Each app's most recently applied migration (applied in id order)."""
    latest: dict[str, str] = {}
    for app, name in applied:
        latest[app] = name
    return dict(sorted(latest.items()))


def _applied(cursor: Any, schema: str) -> list[tuple[str, str]]:
    cursor.execute(f"SELECT app, name FROM {_q(schema)}.django_migrations ORDER BY id")
    return [(str(app), str(name)) for app, name in cursor.fetchall()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def media_folder(schema: str) -> Path:
    return Path(settings.MEDIA_ROOT) / schema


def _media_files(schema: str) -> list[tuple[str, Path]]:
    folder = media_folder(schema)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((path.relative_to(folder).as_posix(), path))
    return found


# --- backup ---------------------------------------------------------------------------------


def archive_name(slug: str, moment: datetime) -> str:
    return f"{slug}-{moment:%Y%m%dT%H%M%SZ}.tar.gz"


def backup_tenant(
    tenant: Tenant, *, output: Path | None = None, progress: Progress = _quiet
) -> BackupResult:
    """Write one archive of `tenant` (see the module's docstring). Written to a hidden
    partial file first and renamed when complete: a failed backup leaves no archive behind.
    Raises BackupError with the reason."""
    started = time.perf_counter()
    schema = tenant.schema_name
    if tenant.is_public:
        raise BackupError("The public schema is not an organisation; back up the database.")
    pg_dump, pg_dump_version = checked_pg_dump()
    moment = datetime.now(UTC)
    if output is None or output.is_dir():
        folder = backup_dir() if output is None else output
        output = folder / archive_name(tenant.slug, moment)
        # Two backups within a second (a manual one, then the final one) keep both.
        count = 1
        while output.exists():
            count += 1
            output = folder / archive_name(tenant.slug, moment).replace(
                ".tar.gz", f"-{count}.tar.gz"
            )
    folder = output.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=folder))
    except OSError as exc:
        raise BackupError(f"cannot write in {folder}: {exc.strerror or exc}") from exc
    partial = work / output.name
    try:
        progress(f"Backing up {tenant.slug} (schema {schema}) to {output}")
        manifest = _dump_in_snapshot(tenant, pg_dump, pg_dump_version, work / DUMP, progress)
        manifest["created_at"] = moment.isoformat()
        files = _media_files(schema)
        manifest["files"] = [
            {"path": rel, "bytes": path.stat().st_size, "sha256": _sha256(path)}
            for rel, path in files
        ]
        progress(f"  files: {len(files)} ({_human(sum(f['bytes'] for f in manifest['files']))})")
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(moment.timestamp()), 0o600
            archive.addfile(info, io.BytesIO(data))
            archive.add(work / DUMP, arcname=DUMP, recursive=False)
            for rel, path in files:
                archive.add(path, arcname=FILES + rel, recursive=False)
        partial.chmod(0o600)
        partial.replace(output)
    except OSError as exc:
        raise BackupError(
            f"could not write the backup of {tenant.slug} to {output}: {exc.strerror or exc}"
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = output.stat().st_size
    seconds = time.perf_counter() - started
    progress(f"Wrote {output} ({_human(size)}) in {seconds:.1f} s")
    return BackupResult(path=output, size=size, seconds=seconds, manifest=manifest)


def _dump_in_snapshot(
    tenant: Tenant, pg_dump: str, pg_dump_version: str, target: Path, progress: Progress
) -> dict[str, Any]:
    """Dump the schema, count its rows and read its scheduled jobs, all in one snapshot."""
    schema = tenant.schema_name
    try:
        link = _connect()
    except psycopg.Error as exc:
        raise BackupError(f"could not connect to the database: {exc}") from exc
    with link:
        link.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        link.read_only = True
        with link.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, server = cursor.fetchone()  # type: ignore[misc]
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
            if cursor.fetchone() is None:
                raise BackupError(f"the schema {schema} of {tenant.slug} does not exist")
            dumped = time.perf_counter()
            result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [
                    pg_dump,
                    f"--schema={_q(schema)}",
                    "--no-owner",
                    "--no-privileges",
                    "--format=plain",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ],
                env=client_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                reason = result.stderr.strip() or f"exit status {result.returncode}"
                raise BackupError(f"pg_dump failed for {tenant.slug}: {reason}")
            progress(
                f"  schema dumped: {_human(target.stat().st_size)} of SQL "
                f"in {time.perf_counter() - dumped:.1f} s"
            )
            applied = _applied(cursor, schema)
            counts = row_counts(cursor, schema)
            cursor.execute(
                "SELECT kind, object_id, due_at, attempts, last_error "
                "FROM public.tenants_scheduledjob WHERE schema_name = %s ORDER BY id",
                [schema],
            )
            scheduled = [
                {
                    "kind": kind,
                    "object_id": object_id,
                    "due_at": due_at.isoformat(),
                    "attempts": attempts,
                    "last_error": last_error,
                }
                for kind, object_id, due_at, attempts, last_error in cursor.fetchall()
            ]
        link.rollback()
    progress(f"  tables: {len(counts)}, rows: {sum(counts.values())}")
    return {
        "format": FORMAT,
        "organisation": {
            "slug": tenant.slug,
            "name": tenant.name,
            "schema": schema,
            "plan": tenant.plan,
            "status": tenant.status,
            "created_at": tenant.created_at.isoformat(),
            "updated_at": tenant.updated_at.isoformat(),
            "domains": [
                {"domain": d.domain, "is_primary": d.is_primary}
                for d in tenant.domains.order_by("domain")
            ],
        },
        "migrations": latest_migrations(applied),
        "applied_migrations": [list(pair) for pair in applied],
        "tables": counts,
        "scheduled_jobs": scheduled,
        "pg_dump_version": pg_dump_version,
        "server_version": str(server),
        "dump": {"name": DUMP, "bytes": target.stat().st_size, "sha256": _sha256(target)},
    }


# --- reading an archive ---------------------------------------------------------------------


_DAMAGED = (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError, ValueError)


class Archive:
    """An archive opened for restoring; every problem reading it is a BackupError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tar = tarfile.open(path, "r:gz")  # noqa: SIM115 - closed by close()
            # Reads the archive to its end: a truncated one fails here, before anything.
            self.members = {m.name: m for m in self.tar.getmembers()}
        except FileNotFoundError as exc:
            raise BackupError(f"there is no archive at {path}") from exc
        except _DAMAGED as exc:
            raise BackupError(
                f"{path} is not a readable backup archive (damaged or incomplete): {exc}"
            ) from exc
        self.manifest = self._manifest()

    def close(self) -> None:
        self.tar.close()

    def _open(self, name: str) -> IO[bytes]:
        member = self.members.get(name)
        handle = self.tar.extractfile(member) if member is not None and member.isfile() else None
        if handle is None:
            raise BackupError(f"{self.path} holds no {name}: not a Kestrel backup archive")
        return handle

    def _manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self._open(MANIFEST).read())
        except _DAMAGED as exc:
            raise BackupError(f"the manifest of {self.path} is unreadable: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{self.path} is not a Kestrel backup of format {FORMAT}")
        return manifest

    @contextlib.contextmanager
    def dump(self) -> Iterator[IO[bytes]]:
        handle = self._open(DUMP)
        try:
            yield handle
        except _DAMAGED as exc:
            raise BackupError(f"the dump in {self.path} is unreadable: {exc}") from exc
        finally:
            handle.close()

    def verify_dump(self) -> None:
        expected = self.manifest.get("dump") or {}
        digest, size = hashlib.sha256(), 0
        with self.dump() as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
        if digest.hexdigest() != expected.get("sha256") or size != expected.get("bytes"):
            raise BackupError(
                f"the dump in {self.path} does not match its manifest (modified or damaged): "
                "nothing was restored"
            )

    def extract_files(self, target: Path) -> int:
        """Copy every file of the manifest into `target`, checking size and SHA-256."""
        count = 0
        for entry in self.manifest.get("files", []):
            rel = str(entry["path"])
            parts = Path(rel).parts
            if not rel or Path(rel).is_absolute() or ".." in parts:
                raise BackupError(f"{self.path} names a file outside its folder: {rel!r}")
            destination = target / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            try:
                source = self._open(FILES + rel)
                with source, destination.open("wb") as out:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            except BackupError:
                raise
            except _DAMAGED as exc:
                raise BackupError(f"could not restore the file {rel}: {exc}") from exc
            if digest.hexdigest() != entry.get("sha256"):
                raise BackupError(f"the file {rel} in {self.path} does not match its manifest")
            count += 1
        return count


def resolve_archive(name: str | Path) -> Path:
    """A path as given, else a name looked up in KESTREL_BACKUP_DIR."""
    path = Path(name)
    if path.exists() or path.parent != Path("."):
        return path
    return backup_dir() / path


# --- migrations -----------------------------------------------------------------------------


def migrations_to_apply(manifest: dict[str, Any]) -> list[str]:
    """The code's migrations the archive's schema has not had (run after loading it).
    Refuses an archive made by a newer version of the product."""
    applied = {(str(a), str(n)) for a, n in manifest.get("applied_migrations", [])}
    if not applied:
        raise BackupError("the archive records no migrations: not a Kestrel backup")
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    newer = sorted(applied - known)
    if newer:
        shown = ", ".join(f"{a}.{n}" for a, n in newer[:5]) + (" ..." if len(newer) > 5 else "")
        raise BackupError(
            "the archive was made by a newer version of Kestrel than this one (its schema has "
            f"migrations this code does not know: {shown}). Restore it with that version or "
            "newer."
        )
    from . import provisioning, schemas

    current = schemas.applied_migrations(provisioning.template_schema())
    return sorted(f"{a}.{n}" for a, n in current - applied)


# --- loading a dump -------------------------------------------------------------------------

_SET = re.compile(r"^SET\s+(\w+)\s*=\s*(.*?);\s*$")
_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', '', false);"
_COPY = re.compile(r"^COPY\s.*\sFROM stdin;\s*$")


def _settings_known(cursor: Any) -> set[str]:
    cursor.execute("SELECT name FROM pg_settings")
    return {str(row[0]) for row in cursor.fetchall()}


def load_dump(stream: IO[bytes], *, old: str, new: str) -> None:
    """Run a plain pg_dump of schema `old` as schema `new`, in the current transaction.

    Statements are run as they come; rows are streamed through COPY untouched. `old` is
    rewritten to `new` where it stands as a whole name in the SQL, never in rows. Session
    settings the dump makes become local to this transaction."""
    rename = re.compile(r"(?<![\w$])" + re.escape(old) + r"(?![\w$])")
    with connection.cursor() as cursor:
        known = _settings_known(cursor)
        raw = cursor.cursor
        cursor.execute("SELECT current_setting('search_path')")
        saved_path = str(cursor.fetchone()[0])
        pending: list[str] = []

        def run_pending() -> None:
            sql = "".join(pending).strip()
            pending.clear()
            if sql:
                cursor.execute(sql)

        lines = iter(stream)
        for raw_line in lines:
            line = raw_line.decode("utf-8")
            if line.startswith("--") or not line.strip():
                continue
            if line.startswith("\\"):
                # psql's own commands: \restrict / \unrestrict guard psql itself.
                if re.match(r"^\\(un)?restrict\b", line):
                    continue
                raise BackupError(f"the dump holds an unexpected psql command: {line[:60]!r}")
            setting = _SET.match(line)
            if setting:
                name = setting.group(1)
                if name != "client_encoding" and name in known:
                    pending.append(f"SET LOCAL {name} = {setting.group(2)};\n")
                continue
            if line.strip() == _SEARCH_PATH:
                pending.append("SELECT pg_catalog.set_config('search_path', '', true);\n")
                continue
            if _COPY.match(line):
                run_pending()
                statement = rename.sub(new, line.strip()[:-1])
                ended = False
                with raw.copy(statement) as copy:
                    for data in lines:
                        if data.rstrip(b"\r\n") == b"\\.":
                            ended = True
                            break
                        copy.write(data)
                if not ended:
                    raise BackupError("the dump ends in the middle of a table's rows")
                continue
            pending.append(rename.sub(new, line))
        run_pending()
        cursor.execute("SELECT pg_catalog.set_config('search_path', %s, true)", [saved_path])


def verify_loaded(*, old: str, new: str, manifest: dict[str, Any]) -> None:
    """What was loaded is what the manifest says, and depends on nothing of the old schema."""
    expected = {str(k): int(v) for k, v in (manifest.get("tables") or {}).items()}
    with connection.cursor() as cursor:
        counts = row_counts(cursor, new)
        if counts != expected:
            missing = sorted(set(expected) - set(counts))
            extra = sorted(set(counts) - set(expected))
            differ = sorted(t for t in set(counts) & set(expected) if counts[t] != expected[t])
            raise BackupError(
                "the restored schema does not match the archive's manifest "
                f"(missing tables: {missing[:5]}, unexpected: {extra[:5]}, "
                f"other row counts: {differ[:5]})"
            )
        if old == new:  # restored under its old address: nothing else to be tied to
            return
        cursor.execute(
            """
            SELECT count(*) FROM pg_depend d
              JOIN pg_class ref ON d.refclassid = 'pg_class'::regclass AND ref.oid = d.refobjid
             WHERE ref.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(old)s)
               AND (
                 (d.classid = 'pg_class'::regclass AND d.objid IN (
                     SELECT oid FROM pg_class WHERE relnamespace = %(new)s::regnamespace))
                 OR (d.classid = 'pg_constraint'::regclass AND d.objid IN (
                     SELECT oid FROM pg_constraint WHERE connamespace = %(new)s::regnamespace))
                 OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN (
                     SELECT a.oid FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid
                      WHERE c.relnamespace = %(new)s::regnamespace))
               )
            """,
            {"old": old, "new": _q(new)},
        )
        if int(cursor.fetchone()[0]):
            raise BackupError(
                f"the restored schema {new} still refers to the schema {old}: not restored"
            )


# --- restore --------------------------------------------------------------------------------


def restore_tenant(
    archive_path: str | Path,
    slug: str,
    *,
    name: str | None = None,
    actor: str = "system",
    progress: Progress = _quiet,
) -> RestoreResult:
    """Create a NEW organisation `slug` from an archive. Raises ValidationError for a slug
    sign-up would refuse (malformed, reserved or taken) and BackupError for an archive that
    cannot be restored; either way nothing is created."""
    from .provisioning import slug_check_available
    from .validators import schema_name_for_slug

    started = time.perf_counter()
    slug = slug.strip()
    connection.set_schema_to_public()
    slug_check_available(slug)
    schema = schema_name_for_slug(slug)
    path = resolve_archive(archive_path)
    archive = Archive(path)
    try:
        manifest = archive.manifest
        organisation = manifest.get("organisation") or {}
        old = str(organisation.get("schema") or "")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", old):
            raise BackupError(f"the manifest of {path} names no valid schema")
        to_migrate = migrations_to_apply(manifest)
        progress(f"Restoring {path.name} (organisation {organisation.get('slug')}) as {slug}")
        archive.verify_dump()
        final = media_folder(schema)
        if final.exists():
            raise BackupError(f"{final} already exists; move it away before restoring as {slug}")
        staging = Path(settings.MEDIA_ROOT) / f".restore-{uuid.uuid4().hex[:12]}"
        try:
            files = archive.extract_files(staging)
            progress(f"  files: {files}")
            with transaction.atomic():
                loaded = time.perf_counter()
                try:
                    with archive.dump() as stream:
                        load_dump(stream, old=old, new=schema)
                except DatabaseError as exc:
                    raise BackupError(
                        f"the dump in {path} could not be loaded ({exc}): nothing was restored"
                    ) from exc
                verify_loaded(old=old, new=schema, manifest=manifest)
                progress(
                    f"  schema loaded: {len(manifest.get('tables') or {})} tables, "
                    f"{sum((manifest.get('tables') or {}).values())} rows "
                    f"in {time.perf_counter() - loaded:.1f} s"
                )
                tenant = _create_rows(
                    slug=slug,
                    schema=schema,
                    name=(name or "").strip() or str(organisation.get("name") or slug),
                    manifest=manifest,
                )
                audit_record(
                    actor=actor,
                    action="tenant.restored",
                    tenant_slug=slug,
                    detail={
                        "archive": path.name,
                        "from_slug": organisation.get("slug"),
                        "from_schema": old,
                        "migrated": len(to_migrate),
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
                if staging.exists():
                    staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if not Tenant.objects.filter(slug=slug).exists():
                shutil.rmtree(final, ignore_errors=True)
            raise
    finally:
        archive.close()
    if to_migrate:
        progress(f"  migrating {len(to_migrate)} migration(s) the archive predates")
        _migrate_or_undo(tenant)
    seconds = time.perf_counter() - started
    progress(f"Restored {slug} (schema {schema}) in {seconds:.1f} s")
    return RestoreResult(tenant=tenant, seconds=seconds, migrated=to_migrate, files=files)


def _create_rows(*, slug: str, schema: str, name: str, manifest: dict[str, Any]) -> Tenant:
    from apps.core.urls_util import tenant_host

    organisation = manifest.get("organisation") or {}
    plan = organisation.get("plan") if organisation.get("plan") in Plan.values else Plan.FREE
    status = organisation.get("status")
    if status not in TenantStatus.values:
        status = TenantStatus.ACTIVE
    tenant = Tenant.objects.create(
        schema_name=schema, slug=slug, name=name[:200], plan=plan, status=status
    )
    Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
    jobs = []
    for job in manifest.get("scheduled_jobs") or []:
        due_at = parse_datetime(str(job["due_at"]))
        if due_at is None:
            raise BackupError(f"a scheduled job of the archive has no valid time: {job!r}")
        jobs.append(
            ScheduledJob(
                schema_name=schema,
                kind=str(job["kind"]),
                object_id=int(job["object_id"]),
                due_at=due_at,
                attempts=int(job.get("attempts") or 0),
                last_error=str(job.get("last_error") or ""),
            )
        )
    ScheduledJob.objects.bulk_create(jobs)
    return tenant


def _migrate_or_undo(tenant: Tenant) -> None:
    from django.core.management import call_command

    from . import schemas

    try:
        call_command(
            "migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0
        )
    except Exception as exc:
        connection.set_schema_to_public()
        with transaction.atomic():
            ScheduledJob.objects.filter(schema_name=tenant.schema_name).delete()
            tenant.domains.all().delete()
            Tenant.objects.filter(pk=tenant.pk).delete()
            schemas.drop_schema(tenant.schema_name)
        shutil.rmtree(media_folder(tenant.schema_name), ignore_errors=True)
        raise BackupError(
            f"the restored organisation could not be migrated to this version ({exc}); "
            "it was removed again"
        ) from exc
    finally:
        connection.set_schema_to_public()
