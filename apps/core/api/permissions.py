"""Permission checks shared by every API resource."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from apps.accounts.roles import Role
from apps.apikeys.scopes import scope_allows


class KeyScopeAllows(permissions.BasePermission):
    """A key limited by scopes may only read (or write) the resources its scopes name, and a
    read-only key or user never writes. Views name their resource in `scope_resource`."""

    message = "This API key's scopes do not allow this request."

    def has_permission(self, request: Request, view: Any) -> bool:
        write = request.method not in permissions.SAFE_METHODS
        role = getattr(request.user, "role", None)
        if write and role == Role.READONLY:
            self.message = "Read-only access cannot change anything."
            return False
        resource = getattr(view, "scope_resource", None)
        scopes = getattr(request.user, "scopes", None)
        if resource is None or scopes is None:
            return True
        return scope_allows(scopes, resource=resource, write=write)
