"""`Authorization: Bearer <key>` (or `Api-Key <key>`) for the REST API."""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.accounts.roles import Role, group_name

from ..models import ApiKey
from ..services import api_key_authenticate

SCHEMES = ("bearer", "api-key")


@dataclass
class ApiKeyPrincipal:
    """Who a key-authenticated request acts as: the key itself, with its role and scopes."""

    key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    scopes: list[str] = field(default_factory=list)
    _perms: set[str] | None = None

    def __post_init__(self) -> None:
        self.scopes = list(self.key.scopes)

    @property
    def pk(self) -> int | None:
        return self.key.created_by_id

    @property
    def role(self) -> Role:
        return Role(self.key.role)

    @property
    def email(self) -> None:
        return None

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """The key's role's model permissions, as a member of that role would have them."""
        if self.role == Role.OWNER:
            return True
        if self._perms is None:
            from django.contrib.auth.models import Permission

            rows = Permission.objects.filter(group__name=group_name(self.role)).values_list(
                "content_type__app_label", "codename"
            )
            self._perms = {f"{app}.{codename}" for app, codename in rows}
        return perm in self._perms

    def __str__(self) -> str:
        return f"API key {self.key.name} (kst_{self.key.prefix}_…)"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in SCHEMES:
            return None  # another scheme, or none: let session authentication try
        key = api_key_authenticate(token=token.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is invalid, revoked or expired.")
        return ApiKeyPrincipal(key=key), key

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated API requests answer 401 (with this challenge), not 403.
        return 'Bearer realm="api"'
