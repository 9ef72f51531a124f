# `migrate` means the same as `migrate_schemas`, so test runners and habits reach the template too.
from .migrate_schemas import Command  # noqa: F401
