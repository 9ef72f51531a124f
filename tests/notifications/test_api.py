"""`/api/v1/notifications/`: the caller's own notifications only (another person's is a 404),
cursor pagination and `?unread=true`, marking read, settings, and what API keys may do."""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import User
from apps.apikeys.services import api_key_create
from apps.notifications import services
from apps.notifications.models import Notification
from apps.notifications.selectors import settings_for
from tenants.models import Tenant

from .conftest import anonymous, signed_in

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _tell(user: User, title: str, **fields: Any) -> Notification:
    made = services.notify(
        recipient=user, kind=fields.pop("kind", "reminder"), title=title, **fields
    )
    assert made is not None
    return made


def _keyed(tenant: Tenant, **key: Any) -> Any:
    secret = api_key_create(name=key.pop("name", "test key"), **key).secret
    return anonymous(tenant, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_list_is_the_callers_own_newest_first(
    in_a: Tenant, rep: User, other_rep: User, owner: User
) -> None:
    first = _tell(rep, "First", url="/deals/1/")
    second = _tell(rep, "Second", kind="mention", actor=owner, body="@Rita Rep look")
    _tell(other_rep, "Not yours")
    body = signed_in(in_a, rep).get("/api/v1/notifications/").json()
    assert [n["title"] for n in body["results"]] == ["Second", "First"]
    assert body["next"] is None
    item = body["results"][0]
    assert item["id"] == second.pk and item["kind"] == "mention"
    assert item["actor"] == owner.pk and item["actor_name"] == owner.get_full_name()
    assert item["read"] is False and item["read_at"] is None
    assert item["body"] == "@Rita Rep look" and item["created_at"]
    assert body["results"][1]["url"] == "/deals/1/" and body["results"][1]["id"] == first.pk


def test_cursor_pagination_and_unread_filter(in_a: Tenant, rep: User) -> None:
    made = [_tell(rep, f"N{i}") for i in range(5)]
    services.notification_mark_read(actor=rep, notification=made[4])
    client = signed_in(in_a, rep)
    page = client.get("/api/v1/notifications/?page_size=2").json()
    assert [n["title"] for n in page["results"]] == ["N4", "N3"]
    page = client.get(page["next"]).json()
    assert [n["title"] for n in page["results"]] == ["N2", "N1"]
    unread = client.get("/api/v1/notifications/?unread=true").json()
    assert [n["title"] for n in unread["results"]] == ["N3", "N2", "N1", "N0"]


def test_another_persons_notification_is_not_found(
    in_a: Tenant, rep: User, other_rep: User
) -> None:
    theirs = _tell(other_rep, "Theirs")
    client = signed_in(in_a, rep)
    for answer in (
        client.get(f"/api/v1/notifications/{theirs.pk}/"),
        client.post(f"/api/v1/notifications/{theirs.pk}/read/", content_type=JSON),
    ):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
        assert "Theirs" not in answer.content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get("/api/v1/notifications/999999/").status_code == 404


def test_mark_one_and_all_read(in_a: Tenant, rep: User, other_rep: User) -> None:
    one, _two, _three = (_tell(rep, t) for t in ("One", "Two", "Three"))
    theirs = _tell(other_rep, "Theirs")
    client = signed_in(in_a, rep)
    answer = client.post(f"/api/v1/notifications/{one.pk}/read/", content_type=JSON)
    assert answer.status_code == 200
    assert answer.json()["read"] is True and answer.json()["read_at"]
    assert client.get(f"/api/v1/notifications/{one.pk}/").json()["read"] is True
    answer = client.post("/api/v1/notifications/read-all/", content_type=JSON)
    assert answer.status_code == 200 and answer.json() == {"marked": 2}
    assert client.get("/api/v1/notifications/?unread=true").json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_settings_read_and_change(in_a: Tenant, rep: User) -> None:
    client = signed_in(in_a, rep)
    assert client.get("/api/v1/notifications/settings/").json() == {
        "email_reminders": True,
        "email_assignments": True,
        "email_mentions": True,
        "default_reminders": [15],
    }
    answer = client.patch(
        "/api/v1/notifications/settings/",
        {"email_mentions": False, "default_reminders": [60, 5]},
        content_type=JSON,
    )
    assert answer.status_code == 200
    assert answer.json()["email_mentions"] is False
    assert answer.json()["default_reminders"] == [5, 60]
    assert answer.json()["email_reminders"] is True
    assert settings_for(rep).default_reminders == [5, 60]


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"default_reminders": [1, 2, 3, 4, 5, 6]}, "default_reminders", "at most 5"),
        ({"default_reminders": [10, 10]}, "default_reminders", "listed twice"),
        ({"default_reminders": [50_000]}, "default_reminders", "out of range"),
        ({"default_reminders": ["soon"]}, "default_reminders", "not a number of minutes"),
        ({"default_reminders": 15}, "default_reminders", "list"),
        ({"email_mentions": "maybe"}, "email_mentions", "boolean"),
        ({"email_everything": True}, "email_everything", "no such setting"),
    ],
)
def test_bad_settings_answer_400_naming_the_field(
    in_a: Tenant, rep: User, patch: dict[str, Any], field: str, words: str
) -> None:
    services.notification_settings_update(actor=rep, default_reminders=[30])
    answer = signed_in(in_a, rep).patch("/api/v1/notifications/settings/", patch, content_type=JSON)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == field
    assert words in error["message"].lower()
    assert settings_for(rep).default_reminders == [30]


def test_a_key_acts_for_the_person_who_made_it(in_a: Tenant, rep: User, owner: User) -> None:
    mine = _tell(rep, "For Rita")
    _tell(owner, "For the owner")
    client = _keyed(in_a, role="rep", created_by=rep)
    assert [n["title"] for n in client.get("/api/v1/notifications/").json()["results"]] == [
        "For Rita"
    ]
    assert client.post(f"/api/v1/notifications/{mine.pk}/read/").status_code == 200
    assert (
        client.patch(
            "/api/v1/notifications/settings/", {"email_reminders": False}, content_type=JSON
        ).json()["email_reminders"]
        is False
    )
    assert settings_for(rep).email_reminders is False


def test_a_key_that_belongs_to_nobody_is_refused(in_a: Tenant, owner: User) -> None:
    _tell(owner, "For the owner")
    client = _keyed(in_a, role="admin")
    for answer in (
        client.get("/api/v1/notifications/"),
        client.get("/api/v1/notifications/settings/"),
        client.post("/api/v1/notifications/read-all/"),
    ):
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "permission_denied"
        assert "belongs to no user" in answer.json()["error"]["message"]


def test_read_only_and_scoped_keys_keep_their_limits(in_a: Tenant, rep: User) -> None:
    made = _tell(rep, "For Rita")
    reader = _keyed(in_a, role="readonly", created_by=rep)
    assert reader.get("/api/v1/notifications/").status_code == 200
    assert reader.post(f"/api/v1/notifications/{made.pk}/read/").status_code == 403
    read_scope = _keyed(in_a, role="rep", scopes="notifications:read", created_by=rep)
    assert read_scope.get(f"/api/v1/notifications/{made.pk}/").status_code == 200
    assert read_scope.post("/api/v1/notifications/read-all/").status_code == 403
    other_scope = _keyed(in_a, role="rep", scopes="contacts:write", created_by=rep)
    assert other_scope.get("/api/v1/notifications/").status_code == 403
    write_scope = _keyed(in_a, role="rep", scopes="notifications:write", created_by=rep)
    assert write_scope.post(f"/api/v1/notifications/{made.pk}/read/").status_code == 200


def test_a_read_only_person_still_manages_their_own(in_a: Tenant, readonly: User) -> None:
    made = _tell(readonly, "For Rae")
    client = signed_in(in_a, readonly)
    assert client.post(f"/api/v1/notifications/{made.pk}/read/").status_code == 200
    assert (
        client.patch(
            "/api/v1/notifications/settings/", {"email_mentions": False}, content_type=JSON
        ).status_code
        == 200
    )


def test_anonymous_callers_are_asked_to_authenticate(in_a: Tenant) -> None:
    answer = anonymous(in_a).get("/api/v1/notifications/")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_authenticated"


def test_the_schema_documents_the_endpoints(in_a: Tenant, owner: User) -> None:
    schema = signed_in(in_a, owner).get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/notifications/",
        "/api/v1/notifications/{id}/",
        "/api/v1/notifications/{id}/read/",
        "/api/v1/notifications/read-all/",
        "/api/v1/notifications/settings/",
    ):
        assert path in schema["paths"], path
    assert "patch" in schema["paths"]["/api/v1/notifications/settings/"]
