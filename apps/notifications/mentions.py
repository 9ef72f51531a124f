"""Finding who a text `@`-mentions.

A person is mentioned by `@Full Name` (any case, any spacing between the names) or by
`@localpart`, the part of their email address before the @. An @ inside a word (an email
address such as `ann@example.com`) mentions nobody, and a mention must end where the name
ends: `@Ann` does not mention Anna, and `@ann` does not mention `ann.lee@…`.
"""

from __future__ import annotations

import re

from apps.accounts.models import User

# The @ must start a word: not after a letter, digit or an address character.
_START = r"(?<![\w.+\-@])@"


def _name_pattern(full_name: str) -> str | None:
    parts = full_name.split()
    if not parts:
        return None
    return _START + r"\s+".join(re.escape(part) for part in parts) + r"(?!\w)"


def _local_pattern(localpart: str) -> str | None:
    if not localpart:
        return None
    # Ends at anything but a word or address character; a full stop ends it only when no
    # word follows (the end of a sentence, not "ann.lee").
    return _START + re.escape(localpart) + r"(?![\w+\-]|\.\w)"


def mentioned_users(text: str) -> list[User]:
    """The active users of the current organisation that `text` mentions, in id order."""
    if "@" not in text:
        return []
    found: list[User] = []
    for user in User.objects.filter(is_active=True).order_by("pk"):
        patterns = [
            _name_pattern(user.full_name),
            _local_pattern(user.email.split("@", 1)[0]),
        ]
        if any(p and re.search(p, text, flags=re.IGNORECASE) for p in patterns):
            found.append(user)
    return found
