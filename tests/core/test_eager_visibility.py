"""Eager visibility (used by reports over big tables) is the same rule as the lazy one: for
every role, the same records, shares and team records."""

from __future__ import annotations

from typing import Any

from apps.accounts.roles import Role
from apps.accounts.services import team_create, team_update
from apps.core import visibility
from apps.deals.models import Deal
from apps.deals.services import deal_create, deal_share
from tests.deals.conftest import ctx, member, people  # noqa: F401


def _ids(user: Any, *, eager: bool) -> set[int]:
    return set(
        visibility.visible(Deal.objects.all(), user, eager=eager).values_list("pk", flat=True)
    )


def test_eager_and_lazy_visibility_agree_for_every_role(ctx, people, monkeypatch) -> None:  # noqa: F811
    manager = member(ctx.tenant, "eager-manager@alpha.test", Role.MANAGER)
    team = team_create(actor=people.owner, name="Eager team", manager=manager)
    team_update(team=team, manager=manager, members=[people.rep], actor=people.owner)
    mine = deal_create(actor=people.owner, title="Rep's own", owner=people.rep)
    shared = deal_create(actor=people.owner, title="Shared with rep2", owner=people.owner)
    deal_share(actor=people.owner, deal=shared, user=people.rep2, level="view")
    deal_create(actor=people.owner, title="Nobody else's", owner=people.owner)
    for user in (people.owner, people.admin, people.rep, people.rep2, people.readonly, manager):
        assert _ids(user, eager=True) == _ids(user, eager=False), user.email
    assert mine.pk in _ids(manager, eager=True)
    assert _ids(people.rep2, eager=True) == {shared.pk}
    # Past the eager limit, the shared ids stay a subquery: still the same records.
    monkeypatch.setattr(visibility, "EAGER_SHARED_MAX", 0)
    assert _ids(people.rep2, eager=True) == {shared.pk}
