"""Backing up one organisation, restoring it under a new address, and deleting one (after its
final backup).

pg_dump runs in another process and sees only committed rows, so these tests work on
committed organisations (the database in autocommit, no test transaction, as in
tests/workers/conftest.py) and delete every organisation they made when they end. The
organisation backed up is seeded like the demo one: users of every role with object
permissions, teams, companies, contacts with custom fields and tags, deals with their stage
history, leads, activities with reminders, notifications, a finished import with its uploaded
file and its error file, report subscriptions, exchange rates and an API key."""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import backup, cachekeys, schemas, services
from tenants.db import connection
from tenants.models import AuditEvent, Domain, ScheduledJob, Tenant

DEMO_PASSWORD = "kestrel-demo-2026"
OWNER = "owner@demo.kestrel.test"


# --- committed organisations ----------------------------------------------------------------


class Made:
    """Organisations a test module makes, committed; deleted (without a final backup) at the
    end, with every file and key of theirs."""

    def __init__(self) -> None:
        self.slugs: list[str] = []

    def slug(self, label: str) -> str:
        slug = f"b{uuid.uuid4().hex[:8]}-{label}"[:40]
        self.slugs.append(slug)
        return slug

    def provision(self, label: str) -> Tenant:
        from tenants.provisioning import tenant_provision

        return tenant_provision(
            slug=self.slug(label),
            name=f"Backup test {label}",
            owner_email=OWNER,
            owner_password=DEMO_PASSWORD,
            use_pool=False,
        ).tenant

    def delete_all(self) -> None:
        connection.set_schema_to_public()
        with override_settings(KESTREL_BACKUP_ON_DELETE=False):
            for tenant in Tenant.objects.filter(slug__in=self.slugs):
                services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")


def seed_like_demo(tenant: Tenant) -> str:
    """The demo organisation's data (seed_demo's own seeders, less the year of sales history,
    which takes a minute and adds rows only to tables the others fill too) in `tenant`, plus
    an API key whose secret is returned."""
    from apps.accounts.models import User
    from apps.accounts.services import user_set_role
    from apps.activities.demo import seed_activities
    from apps.apikeys.services import api_key_create
    from apps.contacts.demo import seed_contacts
    from apps.deals.demo import seed_deals
    from apps.imports.demo import seed_imports
    from apps.leads.demo import seed_leads
    from apps.notifications.demo import seed_notifications
    from apps.notifications.services import quiet
    from apps.reports.demo import seed as seed_subscriptions
    from tenants.management.commands import seed_demo

    # One transaction: committed once, at the end.
    with schema_context(tenant.schema_name), quiet(), transaction.atomic():
        for full_name, email, role in seed_demo.TEAM:
            user = User.objects.create(email=email, full_name=full_name)
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
            user_set_role(user=user, role=role)
        seed_demo._seed_teams_and_companies()
        seed_contacts()
        seed_deals()
        seed_leads()
        seed_activities()
        seed_notifications()
        seed_imports()
        seed_demo._seed_exchange_rates()
        owner = User.objects.get(email=OWNER)
        seed_subscriptions(owner)
        return api_key_create(
            name="Backup test", role="admin", scopes="*:read", created_by=owner
        ).secret


@dataclass
class Restored:
    source: Tenant
    restored: Tenant
    archive: Path
    api_key: str
    result: backup.RestoreResult


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("backup")
    media, archives = root / "media", root / "archives"
    media.mkdir()
    with override_settings(MEDIA_ROOT=str(media), KESTREL_BACKUP_DIR=archives):
        yield root


@pytest.fixture(scope="module")
def committed(django_db_setup: None, django_db_blocker: Any, storage: Path) -> Iterator[Made]:
    from apps.accounts.models import User

    made = Made()
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        # What these tests commit to the public schema must not outlive them: other tests
        # read the audit log and the operators.
        last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        try:
            yield made
        finally:
            made.delete_all()
            connection.set_schema_to_public()
            AuditEvent.objects.filter(id__gt=last_event or 0).delete()
            # Operators have nothing of the tenant apps (whose tables public lacks) to cascade to.
            User.objects.filter(email__endswith="@backup.test")._raw_delete("default")


@pytest.fixture
def db_access(committed: Made, django_db_blocker: Any) -> Iterator[Made]:
    """Database access for a test of this module (committed, no test transaction)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield committed
        connection.set_schema_to_public()


@pytest.fixture(scope="module")
def restored(committed: Made, django_db_blocker: Any) -> Restored:
    with django_db_blocker.unblock():
        source = committed.provision("source")
        api_key = seed_like_demo(source)
        out, err = io.StringIO(), io.StringIO()
        call_command("backup_tenant", source.slug, stdout=out, stderr=err)
        archive = Path(out.getvalue().strip().splitlines()[-1])
        slug = committed.slug("restored")
        result = backup.restore_tenant(archive, slug, actor="test")
        connection.set_schema_to_public()
        return Restored(source, result.tenant, archive, api_key, result)


# --- comparing two schemas ------------------------------------------------------------------


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def tables(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        return backup.schema_tables(cursor, schema)


def columns(schema: str, table: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [schema, table],
        )
        return [(str(a), str(b)) for a, b in cursor.fetchall()]


def primary_key(schema: str, table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
            [f"{q(schema)}.{q(table)}"],
        )
        return [str(row[0]) for row in cursor.fetchall()]


def rows(schema: str, table: str) -> list[tuple[Any, ...]]:
    order = primary_key(schema, table) or [c for c, _ in columns(schema, table)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {q(schema)}.{q(table)} ORDER BY {', '.join(q(c) for c in order)}"
        )
        return list(cursor.fetchall())


def sequences(schema: str) -> dict[str, tuple[int, bool]]:
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
            "AND relkind = 'S' ORDER BY relname",
            [q(schema)],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"SELECT last_value, is_called FROM {q(schema)}.{q(name)}")
            last, called = cursor.fetchone()
            found[str(name)] = (int(last), bool(called))
    return found


def files(schema: str) -> dict[str, bytes]:
    folder = Path(settings.MEDIA_ROOT) / schema
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def keys_matching(pattern: str) -> list[bytes]:
    client = redis_client()
    try:
        return list(client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()


# --- backup and restore ---------------------------------------------------------------------


def test_the_restored_organisation_equals_the_source_table_by_table(
    restored: Restored, db_access: Made
) -> None:
    old, new = restored.source.schema_name, restored.restored.schema_name
    assert old != new and restored.restored.slug != restored.source.slug
    names = tables(old)
    assert names == tables(new) and len(names) > 70
    counts = {}
    for table in names:
        assert columns(new, table) == columns(old, table), table
        source_rows = rows(old, table)
        assert rows(new, table) == source_rows, table
        counts[table] = len(source_rows)
    # The source held real data in many tables, which the comparison above covered.
    for table in (
        "accounts_user",
        "accounts_team",
        "companies_company",
        "companies_companyuserobjectpermission",
        "contacts_contact",
        "contacts_contact_tags",
        "records_customfield",
        "deals_deal",
        "deals_dealstagechange",
        "leads_lead",
        "activities_activity",
        "activities_reminder",
        "imports_importjob",
        "imports_importproblem",
        "notifications_notification",
        "reports_subscription",
        "apikeys_apikey",
    ):
        assert counts[table] > 0, f"{table} is empty in the source"
    assert sum(1 for n in counts.values() if n) >= 30
    # Sequences continue where the source's stood...
    assert sequences(new) == sequences(old)
    assert len(sequences(new)) >= 70
    # ... so a new record in the restored organisation takes a fresh id.
    from apps.accounts.models import User
    from apps.contacts.models import Contact

    with schema_context(new):
        highest = Contact.objects.order_by("-pk").values_list("pk", flat=True).first()
        made = Contact.objects.create(
            first_name="After", last_name="Restore", owner=User.objects.get(email=OWNER)
        )
        assert highest is not None and made.pk > highest
        made.delete()
    # The uploaded files, byte for byte.
    source_files = files(old)
    assert source_files and files(new) == source_files
    assert restored.result.files == len(source_files)
    # Its scheduled work (reminders, report subscriptions) was carried over to the new schema.
    waiting = list(
        ScheduledJob.objects.filter(schema_name=old).values_list("kind", "object_id", "due_at")
    )
    assert waiting
    assert sorted(
        ScheduledJob.objects.filter(schema_name=new).values_list("kind", "object_id", "due_at")
    ) == sorted(waiting)


def test_the_archive_holds_a_manifest_the_dump_and_the_files(restored: Restored) -> None:
    with tarfile.open(restored.archive) as archive:
        names = archive.getnames()
        member = archive.extractfile("manifest.json")
        assert member is not None
        manifest = json.loads(member.read())
    assert names[:2] == ["manifest.json", "schema.sql"]
    assert restored.archive.name.startswith(f"{restored.source.slug}-")
    assert restored.archive.name.endswith(".tar.gz")
    organisation = manifest["organisation"]
    assert organisation["slug"] == restored.source.slug
    assert organisation["schema"] == restored.source.schema_name
    assert organisation["plan"] == restored.source.plan
    assert organisation["domains"] == [
        {"domain": f"{restored.source.slug}.localhost", "is_primary": True}
    ]
    assert manifest["migrations"]["contacts"].startswith("00")
    assert manifest["tables"]["contacts_contact"] > 0
    assert manifest["pg_dump_version"].startswith("pg_dump (PostgreSQL)")
    assert {f"files/{f['path']}" for f in manifest["files"]} == {
        n for n in names if n.startswith("files/")
    }
    assert manifest["created_at"]


def test_the_restored_organisation_is_served_at_its_own_address(
    restored: Restored, db_access: Made
) -> None:
    slug = restored.restored.slug
    assert Domain.objects.get(tenant=restored.restored).domain == f"{slug}.localhost"
    assert AuditEvent.objects.filter(action="tenant.restored", tenant_slug=slug).exists()
    # Workers pick its queues up on their next refresh.
    from tenants import queues

    assert set(queues.tenant_queues(restored.restored.schema_name)) <= queues.wanted_queues()
    browser = Client(HTTP_HOST=f"{slug}.localhost")
    signed_in = browser.post("/accounts/login/", {"username": OWNER, "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    page = browser.get("/contacts/?search=Lovelace")
    assert page.status_code == 200 and b"Ada" in page.content
    # The organisation's API key works at the new address too (it is the same data).
    api = Client(HTTP_HOST=f"{slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {restored.api_key}")
    names = [c["last_name"] for c in api.get("/api/v1/contacts/?search=Lovelace").json()["results"]]
    assert "Lovelace" in names


def test_the_restored_and_the_source_organisation_share_nothing(
    restored: Restored, db_access: Made
) -> None:
    from apps.contacts.models import Contact

    old, new = restored.source.schema_name, restored.restored.schema_name
    with schema_context(new):
        ada = Contact.objects.filter(first_name="Ada", last_name="Lovelace").order_by("pk").first()
        assert ada is not None
        Contact.objects.filter(pk=ada.pk).update(last_name="Restored-only")
        cache.set("isolation-probe", "restored", 60)
    with schema_context(old):
        assert Contact.objects.get(pk=ada.pk).last_name == "Lovelace"
        assert cache.get("isolation-probe") is None
        Contact.objects.filter(pk=ada.pk).update(first_name="Source-only")
        cache.set("isolation-probe", "source", 60)
    with schema_context(new):
        assert Contact.objects.get(pk=ada.pk).first_name == "Ada"
        assert cache.get("isolation-probe") == "restored"
        Contact.objects.filter(pk=ada.pk).update(last_name="Lovelace")
    with schema_context(old):
        Contact.objects.filter(pk=ada.pk).update(first_name="Ada")
    assert keys_matching(f"{new}:*isolation-probe") and keys_matching(f"{old}:*isolation-probe")
    # Files live apart: the restored organisation's folder is its own copy.
    assert (Path(settings.MEDIA_ROOT) / new).resolve() != (Path(settings.MEDIA_ROOT) / old)
    # Over HTTP, the source's session does not open the restored organisation.
    source_browser = Client(HTTP_HOST=f"{restored.source.slug}.localhost")
    source_browser.post("/accounts/login/", {"username": OWNER, "password": DEMO_PASSWORD})
    cookie = source_browser.cookies[settings.SESSION_COOKIE_NAME].value
    other = Client(HTTP_HOST=f"{restored.restored.slug}.localhost")
    other.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert other.get("/contacts/").status_code == 302


# --- refusals: nothing is made --------------------------------------------------------------


def nothing_made(slug: str) -> None:
    connection.set_schema_to_public()
    schema = "t_" + slug.replace("-", "_")
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain__startswith=f"{slug}.").exists()
    assert not schemas.exists(schema)
    assert not ScheduledJob.objects.filter(schema_name=schema).exists()
    media = Path(settings.MEDIA_ROOT)
    assert not (media / schema).exists()
    assert not [p for p in media.iterdir() if p.name.startswith(".restore-")]


def test_backing_up_an_unknown_organisation_is_refused(db_access: Made) -> None:
    with pytest.raises(CommandError, match='no organisation with the address "nobody-here"'):
        call_command("backup_tenant", "nobody-here", stdout=io.StringIO(), stderr=io.StringIO())


def test_restoring_under_a_taken_or_invalid_address_is_refused(
    restored: Restored, db_access: Made
) -> None:
    taken = restored.source.slug
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "restore_tenant",
            str(restored.archive),
            taken,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="lowercase"):
        call_command(
            "restore_tenant",
            str(restored.archive),
            "Bad-Slug",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(ValidationError, match="reserved"):
        backup.restore_tenant(restored.archive, "admin")
    assert Tenant.objects.filter(slug=taken).count() == 1


def rewrite_archive(source: Path, target: Path, change: Any) -> None:
    """Copy an archive, passing each member's (name, bytes) through `change`."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            handle = old.extractfile(member)
            data = handle.read() if handle else b""
            data = change(member.name, data)
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def with_manifest(data: bytes, **changes: Any) -> bytes:
    manifest = json.loads(data)
    manifest.update(changes)
    return json.dumps(manifest).encode()


def test_a_damaged_or_modified_archive_is_refused_and_nothing_is_made(
    restored: Restored, db_access: Made, tmp_path: Path
) -> None:
    slug = db_access.slug("broken")
    # Truncated: half of the file.
    truncated = tmp_path / "truncated.tar.gz"
    data = restored.archive.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CommandError, match="damaged or incomplete"):
        call_command(
            "restore_tenant", str(truncated), slug, stdout=io.StringIO(), stderr=io.StringIO()
        )
    nothing_made(slug)

    # A dump changed after the backup: its checksum no longer matches.
    modified = tmp_path / "modified.tar.gz"
    rewrite_archive(
        restored.archive,
        modified,
        lambda name, data: data.replace(b"Lovelace", b"Lovelacf") if name == "schema.sql" else data,
    )
    with pytest.raises(backup.BackupError, match="does not match its manifest"):
        backup.restore_tenant(modified, slug)
    nothing_made(slug)

    # A dump whose SQL fails halfway, its checksum made to agree: rolled back entirely.
    def break_sql(name: str, data: bytes) -> bytes:
        return data.replace(b"CREATE INDEX", b"CREATE INDEKS", 1) if name == "schema.sql" else data

    broken = tmp_path / "broken.tar.gz"
    rewrite_archive(restored.archive, broken, break_sql)
    fixed = tmp_path / "broken-agreeing.tar.gz"
    dump = _member(broken, "schema.sql")
    rewrite_archive(
        broken,
        fixed,
        lambda name, data: (
            with_manifest(
                data, dump={"name": "schema.sql", "bytes": len(dump), "sha256": _sha(dump)}
            )
            if name == "manifest.json"
            else data
        ),
    )
    with pytest.raises(backup.BackupError, match="could not be loaded"):
        backup.restore_tenant(fixed, slug)
    nothing_made(slug)

    # Rows missing from the dump (a table's rows cut, checksum agreeing): the row counts of
    # the manifest catch it before anything is committed.
    def drop_rows(name: str, data: bytes) -> bytes:
        if name != "schema.sql":
            return data
        found = re.search(rb"\nCOPY \w+\.contacts_contact_tags \(.*\n", data)
        assert found is not None
        block_end = data.index(b"\n\\.\n", found.end() - 1)
        return data[: found.end()] + data[block_end + 1 :]

    cut = tmp_path / "cut.tar.gz"
    rewrite_archive(restored.archive, cut, drop_rows)
    cut_dump = _member(cut, "schema.sql")
    cut_agreeing = tmp_path / "cut-agreeing.tar.gz"
    rewrite_archive(
        cut,
        cut_agreeing,
        lambda name, data: (
            with_manifest(
                data, dump={"name": "schema.sql", "bytes": len(cut_dump), "sha256": _sha(cut_dump)}
            )
            if name == "manifest.json"
            else data
        ),
    )
    with pytest.raises(backup.BackupError, match="does not match the archive's manifest"):
        backup.restore_tenant(cut_agreeing, slug)
    nothing_made(slug)

    # Not an archive at all, and no archive.
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(backup.BackupError, match="not a readable backup archive"):
        backup.restore_tenant(junk, slug)
    with pytest.raises(backup.BackupError, match="there is no archive"):
        backup.restore_tenant(tmp_path / "missing.tar.gz", slug)
    nothing_made(slug)


def _member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return handle.read()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_an_archive_from_a_newer_version_is_refused(
    restored: Restored, db_access: Made, tmp_path: Path
) -> None:
    slug = db_access.slug("newer")
    newer = tmp_path / "newer.tar.gz"

    def future(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["applied_migrations"].append(["contacts", "9999_from_the_future"])
        manifest["migrations"]["contacts"] = "9999_from_the_future"
        return json.dumps(manifest).encode()

    rewrite_archive(restored.archive, newer, future)
    with pytest.raises(CommandError, match=r"newer version of Kestrel.*contacts\.9999"):
        call_command("restore_tenant", str(newer), slug, stdout=io.StringIO(), stderr=io.StringIO())
    nothing_made(slug)


def older_archive(source: Path, target: Path, app: str, name: str, drop: bytes = b"") -> Path:
    """`source` as a version of Kestrel without migration `app`.`name` would have written it:
    no record of that migration, and no SQL line holding `drop` (what it made). The manifest
    is made to agree."""

    def forget(member: str, data: bytes) -> bytes:
        if member == "manifest.json":
            found = json.loads(data)
            found["applied_migrations"].remove([app, name])
            found["tables"]["django_migrations"] -= 1
            return json.dumps(found).encode()
        if member == "schema.sql":
            lines = data.split(b"\n")
            record = b"\t" + app.encode() + b"\t" + name.encode() + b"\t"
            kept = [line for line in lines if record not in line and not (drop and drop in line)]
            assert len(kept) == len(lines) - 1 - bool(drop)
            return b"\n".join(kept)
        return data

    middle = target.with_suffix(".middle")
    rewrite_archive(source, middle, forget)
    dump = _member(middle, "schema.sql")
    rewrite_archive(
        middle,
        target,
        lambda member, data: (
            with_manifest(
                data, dump={"name": "schema.sql", "bytes": len(dump), "sha256": _sha(dump)}
            )
            if member == "manifest.json"
            else data
        ),
    )
    return target


def test_an_archive_from_an_older_version_is_migrated_after_loading(
    restored: Restored, db_access: Made, tmp_path: Path
) -> None:
    assert backup.migrations_to_apply(json.loads(_member(restored.archive, "manifest.json"))) == []
    older = older_archive(
        restored.archive,
        tmp_path / "older.tar.gz",
        "activities",
        "0006_report_covering_indexes",
        drop=b"CREATE INDEX activity_when_cover ",
    )
    assert backup.migrations_to_apply(json.loads(_member(older, "manifest.json"))) == [
        "activities.0006_report_covering_indexes"
    ]
    slug = db_access.slug("older")
    result = backup.restore_tenant(older, slug)
    schema = result.tenant.schema_name
    assert result.migrated == ["activities.0006_report_covering_indexes"]
    assert schemas.applied_migrations(schema) == schemas.applied_migrations(
        restored.source.schema_name
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.activity_when_cover"])
        assert cursor.fetchone()[0] is not None
    assert rows(schema, "activities_activity") == rows(
        restored.source.schema_name, "activities_activity"
    )


def test_an_archive_that_cannot_be_migrated_is_removed_again(
    restored: Restored, db_access: Made, tmp_path: Path
) -> None:
    """The archive lacks a migration's record but holds what it made: migrating fails, and
    the organisation just restored is removed again; nothing is left."""
    manifest = json.loads(_member(restored.archive, "manifest.json"))
    name = manifest["migrations"]["contacts"]
    broken = older_archive(restored.archive, tmp_path / "broken.tar.gz", "contacts", name)
    assert backup.migrations_to_apply(json.loads(_member(broken, "manifest.json"))) == [
        f"contacts.{name}"
    ]
    slug = db_access.slug("unmigratable")
    with pytest.raises(backup.BackupError, match="could not be migrated"):
        backup.restore_tenant(broken, slug)
    nothing_made(slug)


def test_pg_dump_missing_or_too_old_is_a_clear_error(
    restored: Restored, db_access: Made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandError, match="pg_dump was not found on PATH"):
        call_command(
            "backup_tenant", restored.source.slug, stdout=io.StringIO(), stderr=io.StringIO()
        )
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    with pytest.raises(CommandError, match="version 9 but the PostgreSQL server is version"):
        call_command(
            "backup_tenant", restored.source.slug, stdout=io.StringIO(), stderr=io.StringIO()
        )


def test_a_backup_that_cannot_be_written_leaves_nothing(
    restored: Restored, db_access: Made, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(CommandError, match="cannot write in"):
        call_command(
            "backup_tenant",
            restored.source.slug,
            "--output",
            str(blocker / "backup.tar.gz"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    out = tmp_path / "out"
    out.mkdir()
    printed = io.StringIO()
    call_command(
        "backup_tenant",
        restored.source.slug,
        "--output",
        str(out),
        stdout=printed,
        stderr=io.StringIO(),
    )
    written = list(out.iterdir())
    assert len(written) == 1 and written[0].name.startswith(restored.source.slug)
    # An archive of the same second is never overwritten.
    later = tmp_path / "later"
    later.mkdir()
    now = datetime.now(UTC)
    earlier = [
        backup.archive_name(restored.source.slug, now + timedelta(seconds=s)) for s in range(30)
    ]
    for name in earlier:
        (later / name).write_bytes(b"an earlier archive")
    again = backup.backup_tenant(restored.source, output=later)
    assert again.path.name.endswith("-2.tar.gz")
    assert all((later / name).read_bytes() == b"an earlier archive" for name in earlier)
    progress = printed.getvalue().splitlines()
    assert any("schema dumped" in line for line in progress)
    assert any(line.startswith("Wrote") for line in progress)
    assert progress[-1] == str(written[0])


# --- deletion -------------------------------------------------------------------------------


def busy_organisation(made: Made, label: str) -> Tenant:
    """A committed organisation with a contact, an uploaded file, a scheduled job, cached keys
    (its own and the platform's that name it) and queued messages."""
    from apps.accounts.models import User
    from apps.contacts.models import Contact
    from tenants import jobs, queues
    from tenants.tasks import dispatch_marker

    tenant = made.provision(label)
    schema = tenant.schema_name
    with schema_context(schema):
        Contact.objects.create(
            first_name="Grace", last_name="Hopper", owner=User.objects.get(email=OWNER)
        )
        cache.set("something", "cached", 600)
        jobs.schedule(kind="reminders", object_id=1, due_at=timezone.now() + timedelta(days=1))
        job = ScheduledJob.objects.get(schema_name=schema)
    jobs._count_start(job)
    caches["platform"].add(dispatch_marker(schema, "reminders"), 1, 600)
    folder = Path(settings.MEDIA_ROOT) / schema / "imports"
    folder.mkdir(parents=True)
    (folder / "upload.csv").write_bytes(b"first_name\nGrace\n")
    client = redis_client()
    try:
        for name in queues.tenant_queues(schema):
            client.lpush(name, b"{}")
            client.sadd(f"_kombu.binding.{name}", b"x")
    finally:
        client.close()
    return tenant


def leftovers(schema: str) -> dict[str, Any]:
    from tenants import queues

    client = redis_client()
    try:
        queued = [
            n for n in queues.tenant_queues(schema) if client.exists(n, f"_kombu.binding.{n}")
        ]
    finally:
        client.close()
    keys = [k for _, pattern in cachekeys.patterns(schema) for k in keys_matching(pattern)]
    return {
        "tenant": Tenant.objects.filter(schema_name=schema).exists(),
        "domains": Domain.objects.filter(tenant__schema_name=schema).exists(),
        "schema": schemas.exists(schema),
        "files": (Path(settings.MEDIA_ROOT) / schema).exists(),
        "jobs": ScheduledJob.objects.filter(schema_name=schema).exists(),
        "queues": queued,
        "keys": sorted(keys),
    }


def test_deletion_keeps_a_final_backup_then_removes_everything(
    restored: Restored, db_access: Made
) -> None:
    tenant = busy_organisation(db_access, "deleted")
    schema = tenant.schema_name
    before = leftovers(schema)
    assert all(before.values()), before  # everything the deletion must remove is there
    # its own keys (one set here, the reports' generation), the dispatch marker, the job's starts
    assert {k.decode().split(":")[-1 if k.startswith(b"t_") else 2] for k in before["keys"]} >= {
        "something",
        "dispatch",
        "job-starts",
    }
    # Another organisation's keys stay.
    with schema_context(restored.source.schema_name):
        cache.set("neighbour", "kept", 600)
    operator = Client(HTTP_HOST="localhost")
    call_command("create_operator", email="ops@backup.test", password="an-operator-pass")
    assert operator.login(email="ops@backup.test", password="an-operator-pass")
    # The page says whether a final backup is kept, and where.
    page = operator.get(f"/console/tenants/{tenant.slug}/delete/")
    assert b"No final backup is written" in page.content
    with override_settings(KESTREL_BACKUP_ON_DELETE=True):
        page = operator.get(f"/console/tenants/{tenant.slug}/delete/")
        assert b"A final backup of the organisation is written first" in page.content
        assert str(settings.KESTREL_BACKUP_DIR).encode() in page.content
        done = operator.post(
            f"/console/tenants/{tenant.slug}/delete/", {"confirmation": tenant.slug}, follow=True
        )
    assert b"final backup is kept at" in done.content
    connection.set_schema_to_public()
    assert leftovers(schema) == {
        "tenant": False,
        "domains": False,
        "schema": False,
        "files": False,
        "jobs": False,
        "queues": [],
        "keys": [],
    }
    with schema_context(restored.source.schema_name):
        assert cache.get("neighbour") == "kept"
    event = AuditEvent.objects.get(action="tenant.deleted", tenant_slug=tenant.slug)
    final = Path(event.detail["final_backup"])
    assert final.parent == Path(settings.KESTREL_BACKUP_DIR) and final.exists()
    # The final backup brings the organisation back, under a new address.
    again = db_access.slug("undeleted")
    printed = io.StringIO()
    call_command("restore_tenant", final.name, again, "--name", "Brought back", stdout=printed)
    assert printed.getvalue().splitlines()[-1] == f"http://{again}.localhost:8000/"
    back = Tenant.objects.get(slug=again)
    assert back.name == "Brought back"
    from apps.contacts.models import Contact

    with schema_context(back.schema_name):
        assert Contact.objects.filter(last_name="Hopper").exists()
    assert files(back.schema_name) == {"imports/upload.csv": b"first_name\nGrace\n"}
    assert ScheduledJob.objects.filter(schema_name=back.schema_name, kind="reminders").exists()
    # Or under its old address, free again: an undone deletion.
    call_command("restore_tenant", str(final), tenant.slug, stdout=io.StringIO())
    assert leftovers(schema) == {**before, "queues": [], "keys": []}
    with schema_context(schema):
        assert Contact.objects.filter(last_name="Hopper").exists()


def test_deletion_is_refused_when_the_final_backup_cannot_be_written(
    db_access: Made, tmp_path: Path
) -> None:
    tenant = busy_organisation(db_access, "kept")
    schema = tenant.schema_name
    before = leftovers(schema)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("in the way")
    with override_settings(KESTREL_BACKUP_ON_DELETE=True, KESTREL_BACKUP_DIR=blocker / "backups"):
        with pytest.raises(ValidationError, match=r"was not deleted.*Nothing was removed"):
            services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")
        with pytest.raises(CommandError, match="final backup could not be written"):
            call_command(
                "delete_tenant", tenant.slug, "--confirm", tenant.slug, stderr=io.StringIO()
            )
        operator = Client(HTTP_HOST="localhost")
        call_command("create_operator", email="ops2@backup.test", password="an-operator-pass")
        assert operator.login(email="ops2@backup.test", password="an-operator-pass")
        refused = operator.post(
            f"/console/tenants/{tenant.slug}/delete/", {"confirmation": tenant.slug}
        )
        assert refused.status_code == 200 and b"was not deleted" in refused.content
    connection.set_schema_to_public()
    assert leftovers(schema) == before
    assert not AuditEvent.objects.filter(action="tenant.deleted", tenant_slug=tenant.slug).exists()


def test_delete_tenant_command(db_access: Made, tmp_path: Path) -> None:
    tenant = busy_organisation(db_access, "cli")
    with pytest.raises(CommandError, match="no organisation"):
        call_command("delete_tenant", "no-such-org", "--confirm", "no-such-org")
    with pytest.raises(CommandError, match="exactly to confirm"):
        call_command(
            "delete_tenant", tenant.slug, "--confirm", "something-else", stderr=io.StringIO()
        )
    assert schemas.exists(tenant.schema_name)
    out = io.StringIO()
    with override_settings(KESTREL_BACKUP_ON_DELETE=True, KESTREL_BACKUP_DIR=tmp_path):
        call_command(
            "delete_tenant", tenant.slug, "--confirm", tenant.slug, stdout=out, stderr=io.StringIO()
        )
    final = Path(out.getvalue().strip().splitlines()[-1])
    assert final.parent == tmp_path and final.name.startswith(tenant.slug)
    assert not schemas.exists(tenant.schema_name)
    assert not Tenant.objects.filter(slug=tenant.slug).exists()


def test_deletion_waits_for_writers_and_gives_up_with_nothing_removed(
    db_access: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deletion blocks writes before its final backup, so the backup holds everything that is
    removed. A transaction still writing to the organisation makes it wait; past the lock
    timeout it gives up, having removed nothing."""
    tenant = busy_organisation(db_access, "writing")
    before = leftovers(tenant.schema_name)
    monkeypatch.setattr(services, "DELETE_LOCK_TIMEOUT", "300ms")
    writer = backup._connect()
    try:
        writer.execute(
            f"UPDATE {q(tenant.schema_name)}.contacts_contact SET notes = 'still writing'"
        )
        with pytest.raises(ValidationError, match="is busy"):
            services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")
    finally:
        writer.rollback()
        writer.close()
    connection.set_schema_to_public()
    assert leftovers(tenant.schema_name) == before
