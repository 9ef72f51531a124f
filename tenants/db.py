"""The default connection, typed as the tenant-aware backend it really is (schema switching)."""

from typing import TYPE_CHECKING, cast

from django.db import connection as _connection

if TYPE_CHECKING:
    from django_tenants.postgresql_backend.base import DatabaseWrapper

connection = cast("DatabaseWrapper", _connection)
