"""Helpers for import tests: files written to disk and run through the real importer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.accounts.models import User
from apps.imports import engine
from apps.imports import fields as f
from apps.imports.reading import open_table
from tenants.models import Tenant
from tests.conftest import ALPHA


@pytest.fixture
def owner_a(in_tenant_a: Tenant) -> User:
    return User.objects.get(email=ALPHA.owner_email)


def write(
    tmp_path: Path, text: str | bytes, name: str = "people.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def run_file(
    path: Path,
    *,
    actor: Any,
    entity: str = "contact",
    mode: str = "upsert",
    match_on: str = "email",
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    locale: str = "en",
    rejected: list[tuple[list[str], str]] | None = None,
    **kwargs: Any,
) -> engine.Summary:
    table = open_table(path, name=path.name)
    spec = f.spec_for(entity, locale=locale)
    return engine.Importer(
        spec=spec,
        table=table,
        mapping=mapping if mapping is not None else f.suggest_mapping(spec, table.headers),
        mode=mode,
        match_on=match_on,
        actor=actor,
        dry_run=dry_run,
        rejected=(lambda cells, message: rejected.append((cells, message)))
        if rejected is not None
        else None,
        **kwargs,
    ).run()
