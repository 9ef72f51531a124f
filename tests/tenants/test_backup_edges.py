"""Edges of per-organisation backups that need no committed organisation: how pg_dump is
called, archives that are not ours or name files outside their folder, dumps the loader
refuses, and the Redis clean-up without Redis."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from tenants import backup, cachekeys
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def make_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def manifest(**changes: Any) -> bytes:
    found: dict[str, Any] = {
        "format": backup.FORMAT,
        "organisation": {"slug": "old", "name": "Old", "schema": "t_old"},
        "applied_migrations": [["contacts", "0001_initial"]],
        "dump": {"name": "schema.sql", "bytes": 0, "sha256": ""},
        "files": [],
    }
    found.update(changes)
    return json.dumps(found).encode()


def test_pg_dump_gets_the_password_from_the_environment_only(
    tenant_a: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pg_dump that records how it was called, then fails: the password is in PGPASSWORD,
    never among its arguments, and its error reaches the operator."""
    major, _ = backup.server_version()
    record = tmp_path / "called"
    fake = tmp_path / "pg_dump"
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) {major}.1"; exit 0; fi\n'
        f'echo "$@" > {record}\necho "PGPASSWORD=$PGPASSWORD" >> {record}\n'
        'echo "pg_dump: error: simulated failure" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", "s3cret-pass")
    monkeypatch.setitem(settings.DATABASES["default"], "OPTIONS", {"sslmode": "prefer"})
    assert backup.client_env()["PGSSLMODE"] == "prefer"
    with pytest.raises(backup.BackupError, match=r"pg_dump failed for alpha: .*simulated failure"):
        backup.backup_tenant(tenant_a, output=tmp_path / "out.tar.gz")
    arguments, password = record.read_text().splitlines()
    assert "s3cret-pass" not in arguments
    assert "--schema=" in arguments and "--no-owner" in arguments and "--snapshot=" in arguments
    assert password == "PGPASSWORD=s3cret-pass"
    assert not (tmp_path / "out.tar.gz").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-")] == []


def test_a_pg_dump_without_a_readable_version_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'something else'\n")
    fake.chmod(0o755)
    with pytest.raises(backup.BackupError, match="could not read the version"):
        backup.program_version(str(fake))
    with pytest.raises(backup.BackupError, match="could not run"):
        backup.program_version(str(tmp_path / "missing"))


def test_the_public_schema_is_not_backed_up_as_an_organisation() -> None:
    with pytest.raises(backup.BackupError, match="public schema is not an organisation"):
        backup.backup_tenant(Tenant(schema_name="public", slug="", name="Kestrel"))


def test_archives_that_are_not_ours_are_refused(tmp_path: Path) -> None:
    empty = make_archive(tmp_path / "empty.tar.gz", {"other.txt": b"x"})
    with pytest.raises(backup.BackupError, match=r"holds no manifest.json"):
        backup.Archive(empty)
    other = make_archive(tmp_path / "other.tar.gz", {"manifest.json": b'{"format": 99}'})
    with pytest.raises(backup.BackupError, match="not a Kestrel backup of format"):
        backup.Archive(other)
    garbled = make_archive(tmp_path / "garbled.tar.gz", {"manifest.json": b"{not json"})
    with pytest.raises(backup.BackupError, match=r"manifest .* is unreadable"):
        backup.Archive(garbled)
    no_schema = make_archive(
        tmp_path / "noschema.tar.gz",
        {"manifest.json": manifest(organisation={"slug": "x", "schema": "DROP SCHEMA"})},
    )
    with pytest.raises(backup.BackupError, match="names no valid schema"):
        backup.restore_tenant(no_schema, "fresh-one")
    no_migrations = make_archive(
        tmp_path / "nomigrations.tar.gz", {"manifest.json": manifest(applied_migrations=[])}
    )
    with pytest.raises(backup.BackupError, match="records no migrations"):
        backup.restore_tenant(no_migrations, "fresh-one")
    assert not Tenant.objects.filter(slug="fresh-one").exists()


def test_files_outside_the_folder_or_changed_are_refused(tmp_path: Path) -> None:
    outside = make_archive(
        tmp_path / "outside.tar.gz",
        {
            "manifest.json": manifest(files=[{"path": "../../etc/x", "bytes": 1, "sha256": ""}]),
            "files/../../etc/x": b"x",
        },
    )
    with pytest.raises(backup.BackupError, match="names a file outside its folder"):
        backup.Archive(outside).extract_files(tmp_path / "target")
    changed = make_archive(
        tmp_path / "changed.tar.gz",
        {
            "manifest.json": manifest(files=[{"path": "a.csv", "bytes": 1, "sha256": "0" * 64}]),
            "files/a.csv": b"x",
        },
    )
    with pytest.raises(backup.BackupError, match=r"a.csv .* does not match its manifest"):
        backup.Archive(changed).extract_files(tmp_path / "target")
    missing = make_archive(
        tmp_path / "missing.tar.gz",
        {"manifest.json": manifest(files=[{"path": "b.csv", "bytes": 1, "sha256": ""}])},
    )
    with pytest.raises(backup.BackupError, match=r"holds no files/b.csv"):
        backup.Archive(missing).extract_files(tmp_path / "target")


def test_the_loader_refuses_what_pg_dump_never_writes() -> None:
    with pytest.raises(backup.BackupError, match="unexpected psql command"):
        backup.load_dump(io.BytesIO(b"\\! rm -rf /\n"), old="t_old", new="t_new")
    cut = b"CREATE SCHEMA t_new2;\nCREATE TABLE t_old.x (a int);\nCOPY t_old.x (a) FROM stdin;\n1\n"
    with pytest.raises(backup.BackupError, match="ends in the middle of a table's rows"):
        backup.load_dump(io.BytesIO(cut), old="t_old", new="t_new2")


def test_restoring_never_writes_over_an_existing_media_folder(
    tenant_a: Tenant, tmp_path: Path
) -> None:
    """A folder left at the new organisation's place is not merged into: refused first."""
    archive = make_archive(
        tmp_path / "a.tar.gz",
        {
            "manifest.json": manifest(
                applied_migrations=[["contacts", "0001_initial"]],
                dump={"name": "schema.sql", "bytes": 0, "sha256": _empty_sha()},
            ),
            "schema.sql": b"",
        },
    )
    (tmp_path / "media" / "t_left_over").mkdir(parents=True)
    with (
        override_settings(MEDIA_ROOT=str(tmp_path / "media")),
        pytest.raises(backup.BackupError, match="already exists"),
    ):
        backup.restore_tenant(archive, "left-over")
    assert not Tenant.objects.filter(slug="left-over").exists()


def _empty_sha() -> str:
    import hashlib

    return hashlib.sha256(b"").hexdigest()


def test_redis_clean_up_without_redis_does_nothing() -> None:
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": local, "platform": local}):
        assert cachekeys.purge("t_anything") == 0
    with override_settings(CACHES={}):
        assert cachekeys.patterns("t_anything") == []
        assert cachekeys.purge("t_anything") == 0


def test_redis_patterns_match_exactly_one_organisation() -> None:
    found = dict((pattern, alias) for alias, pattern in cachekeys.patterns("t_acme"))
    assert found["t_acme::*"] == "default"
    assert "platform:1:dispatch:t_acme:*" in found
    assert "platform:1:job-starts:t_acme:*" in found
    # The separator after the schema keeps t_acme from matching t_acme_2's keys.
    assert all("t_acme:" in p or "t_acme::" in p for p in found)
    assert cachekeys._glob("a*b?[c]") == "a\\*b\\?\\[c\\]"


def test_a_loaded_schema_still_tied_to_the_old_one_is_refused() -> None:
    """The check after loading: an object of the new schema that depends on one of the old
    schema (a reference the rename missed) stops the restore."""
    from tenants.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE SCHEMA t_edge_old; CREATE SCHEMA t_edge_new; "
            "CREATE TABLE t_edge_old.parent (id int PRIMARY KEY); "
            "CREATE TABLE t_edge_new.parent (id int PRIMARY KEY); "
            "CREATE TABLE t_edge_new.child (id int PRIMARY KEY, "
            "parent_id int REFERENCES t_edge_old.parent (id))"
        )
    tables = {"parent": 0, "child": 0}
    with pytest.raises(backup.BackupError, match="still refers to the schema t_edge_old"):
        backup.verify_loaded(old="t_edge_old", new="t_edge_new", manifest={"tables": tables})
    with pytest.raises(backup.BackupError, match=r"missing tables: \['other'\]"):
        backup.verify_loaded(
            old="t_edge_old", new="t_edge_new", manifest={"tables": {**tables, "other": 1}}
        )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE t_edge_new.child DROP CONSTRAINT child_parent_id_fkey")
    backup.verify_loaded(old="t_edge_old", new="t_edge_new", manifest={"tables": tables})
