"""Uploaded files, one folder per organisation (MEDIA_ROOT/<schema>/...)."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import FileSystemStorage
from django_tenants.files.storage import TenantFileSystemStorage


class TenantFileStorage(TenantFileSystemStorage):
    """django-tenants' storage, forgetting its cached media folder when MEDIA_ROOT changes.

    The parent passes the settings module, not the setting's name, on to Django's handler,
    so a changed MEDIA_ROOT (a test's temporary folder, a settings override) was never seen
    and files kept landing in the first folder used."""

    def _clear_cached_properties(self, setting: str, **kwargs: Any) -> None:
        FileSystemStorage._clear_cached_properties(self, setting, **kwargs)  # type: ignore[arg-type]  # any setting name may arrive
        if setting in ("MEDIA_ROOT", "MULTITENANT_RELATIVE_MEDIA_ROOT"):
            self.__dict__.pop("relative_media_root", None)
        if setting in ("MEDIA_URL", "MULTITENANT_RELATIVE_MEDIA_ROOT"):
            self.__dict__.pop("relative_media_url", None)
