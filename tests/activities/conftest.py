"""Fixtures for activities: people of each role in organisation A."""

from tests.members import client_for, in_a, member, other_rep, owner, readonly, rep

__all__ = ["client_for", "in_a", "member", "other_rep", "owner", "readonly", "rep"]
