"""The notifications centre in the web app: the bell and its polled badge, the list (newest
first, unread marked, "Unread only", pages, empty states), marking read with and without htmx,
following a notification (never off this host), and the settings page."""

from __future__ import annotations

import re

import pytest

from apps.accounts.models import User
from apps.notifications import services
from apps.notifications.models import Notification
from apps.notifications.selectors import settings_for
from tenants.models import Tenant

from .conftest import anonymous, signed_in

pytestmark = pytest.mark.django_db


def _tell(user: User, title: str, url: str = "", kind: str = "reminder") -> Notification:
    made = services.notify(recipient=user, kind=kind, title=title, url=url)
    assert made is not None
    return made


def _badge_count(html: str) -> str | None:
    found = re.search(r'class="notification-count">([^<]+)<', html)
    return found.group(1) if found else None


def test_the_bell_shows_the_unread_count_and_polls_for_it(in_a: Tenant, rep: User) -> None:
    client = signed_in(in_a, rep)
    page = client.get("/").content.decode()
    assert 'href="/notifications/"' in page
    assert 'hx-get="/notifications/badge/"' in page
    assert 'hx-trigger="every 15s, notifications-changed from:body"' in page
    assert _badge_count(page) is None  # nothing unread: no number
    for index in range(3):
        _tell(rep, f"Reminder {index}")
    page = client.get("/").content.decode()
    assert _badge_count(page) == "3"
    badge = client.get("/notifications/badge/")
    assert badge.status_code == 200 and badge["Cache-Control"] == "no-store"
    assert _badge_count(badge.content.decode()) == "3"
    assert '3</span><span class="visually-hidden"> unread' in badge.content.decode()
    assert "<html" not in badge.content.decode()  # a partial, swapped into the header


def test_the_badge_caps_at_99(in_a: Tenant, rep: User) -> None:
    Notification.objects.bulk_create(
        [Notification(recipient=rep, kind="reminder", title=f"R{i}") for i in range(120)]
    )
    assert _badge_count(signed_in(in_a, rep).get("/notifications/badge/").content.decode()) == (
        "99+"
    )


def test_a_signed_out_badge_stops_polling_instead_of_showing_the_sign_in_page(
    in_a: Tenant,
) -> None:
    answer = anonymous(in_a).get("/notifications/badge/")
    assert answer.status_code == 286 and answer.content == b""


def test_no_inline_script_or_style_in_the_pages(in_a: Tenant, rep: User) -> None:
    _tell(rep, "Reminder")
    client = signed_in(in_a, rep)
    for path in ("/", "/notifications/", "/notifications/settings/", "/notifications/badge/"):
        html = client.get(path).content.decode()
        assert " style=" not in html and "<script>" not in html, path


def test_the_list_shows_the_newest_first_with_unread_marked(
    in_a: Tenant, rep: User, other_rep: User
) -> None:
    old = _tell(rep, "Older one", kind="assignment")
    new = _tell(rep, "Newer one", kind="mention")
    _tell(other_rep, "Someone else's")
    services.notification_mark_read(actor=rep, notification=old)
    html = signed_in(in_a, rep).get("/notifications/").content.decode()
    assert html.index("Newer one") < html.index("Older one")
    assert "Someone else&#x27;s" not in html and "Someone else's" not in html
    new_item = re.search(rf'<li id="notification-{new.pk}" class="([^"]+)"', html)
    old_item = re.search(rf'<li id="notification-{old.pk}" class="([^"]+)"', html)
    assert new_item and "is-unread" in new_item.group(1)
    assert old_item and "is-read" in old_item.group(1)
    assert html.count(">Unread</span>") == 1
    assert html.count(">Mark read<") == 1
    assert 'href="/notifications/settings/"' in html
    assert "Unread only (1)" in html and ">Mark all read<" in html


def test_unread_only_and_the_empty_states(in_a: Tenant, rep: User) -> None:
    client = signed_in(in_a, rep)
    html = client.get("/notifications/").content.decode()
    assert "No notifications yet" in html and "Mark all read" not in html
    seen = _tell(rep, "Seen already")
    services.notification_mark_read(actor=rep, notification=seen)
    _tell(rep, "Still new")
    html = client.get("/notifications/?unread=1").content.decode()
    assert "Still new" in html and "Seen already" not in html
    services.notification_mark_all_read(actor=rep)
    html = client.get("/notifications/?unread=1").content.decode()
    assert "Nothing unread" in html and "Still new" not in html


def test_the_list_is_paginated(in_a: Tenant, rep: User) -> None:
    for index in range(30):
        _tell(rep, f"Note number {index:02d}")
    client = signed_in(in_a, rep)
    first = client.get("/notifications/").content.decode()
    assert "Note number 29" in first and "Note number 05" in first
    assert "Note number 04" not in first and "Page 1 of 2" in first
    second = client.get("/notifications/?page=2").content.decode()
    assert "Note number 04" in second and "Note number 00" in second
    assert "Note number 05" not in second


def test_mark_read_with_htmx_swaps_the_item_and_updates_the_bell(in_a: Tenant, rep: User) -> None:
    made = _tell(rep, "Call Ann")
    client = signed_in(in_a, rep)
    answer = client.post(
        f"/notifications/{made.pk}/read/", {"next": "/notifications/"}, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 200
    assert answer["HX-Trigger"] == "notifications-changed"
    html = answer.content.decode()
    assert html.startswith(f'<li id="notification-{made.pk}"') and "is-read" in html
    assert "Marked read" in html and "Mark read<" not in html
    made.refresh_from_db()
    assert made.read_at is not None


def test_mark_read_and_mark_all_read_without_script(
    in_a: Tenant, rep: User, other_rep: User
) -> None:
    one, two = _tell(rep, "One"), _tell(rep, "Two")
    theirs = _tell(other_rep, "Theirs")
    client = signed_in(in_a, rep)
    answer = client.post(f"/notifications/{one.pk}/read/", {"next": "/notifications/?unread=1"})
    assert answer.status_code == 302 and answer["Location"] == "/notifications/?unread=1"
    answer = client.post("/notifications/read-all/", {"next": "https://evil.example/"})
    assert answer.status_code == 302 and answer["Location"] == "/notifications/"
    assert Notification.objects.get(pk=two.pk).read_at is not None
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    follow = client.get("/notifications/").content.decode()
    assert "Marked 1 notification as read." in follow


def test_marking_needs_post_and_the_csrf_token(in_a: Tenant, rep: User) -> None:
    made = _tell(rep, "Call Ann")
    assert signed_in(in_a, rep).get(f"/notifications/{made.pk}/read/").status_code == 405
    strict = signed_in(in_a, rep)
    strict.handler.enforce_csrf_checks = True
    assert strict.post(f"/notifications/{made.pk}/read/").status_code == 403
    assert strict.post("/notifications/read-all/").status_code == 403
    assert strict.post("/notifications/settings/", {"email_mentions": "on"}).status_code == 403
    assert Notification.objects.get(pk=made.pk).read_at is None


def test_following_a_notification_marks_it_read_and_goes_to_its_page(
    in_a: Tenant, rep: User
) -> None:
    made = _tell(rep, "You were assigned a deal", url="/deals/7/?tab=activities")
    answer = signed_in(in_a, rep).get(f"/notifications/{made.pk}/open/")
    assert answer.status_code == 302 and answer["Location"] == "/deals/7/?tab=activities"
    made.refresh_from_db()
    assert made.read_at is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "deals/7/",
        "",
    ],
)
def test_following_never_leaves_this_host(in_a: Tenant, rep: User, url: str) -> None:
    made = Notification.objects.create(recipient=rep, kind="mention", title="x", url=url)
    answer = signed_in(in_a, rep).get(f"/notifications/{made.pk}/open/")
    assert answer.status_code == 302 and answer["Location"] == "/notifications/"


def test_someone_elses_notification_is_not_found(in_a: Tenant, rep: User, other_rep: User) -> None:
    theirs = _tell(other_rep, "Theirs", url="/deals/1/")
    client = signed_in(in_a, rep)
    assert client.get(f"/notifications/{theirs.pk}/open/").status_code == 404
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_signed_out_visitors_sign_in_first(in_a: Tenant, rep: User) -> None:
    made = _tell(rep, "Call Ann")
    client = anonymous(in_a)
    for path in ("/notifications/", f"/notifications/{made.pk}/open/", "/notifications/settings/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_settings_page_saves_email_choices_and_default_reminders(in_a: Tenant, rep: User) -> None:
    client = signed_in(in_a, rep)
    html = client.get("/notifications/settings/").content.decode()
    for label in (
        "At the time",
        "5 minutes before",
        "10 minutes before",
        "15 minutes before",
        "30 minutes before",
        "1 hour before",
        "2 hours before",
        "1 day before",
        "2 days before",
        "1 week before",
    ):
        assert f">{label}</label>" in html, label
    # The defaults are ticked: every email, a reminder 15 minutes before.
    assert re.search(r'name="default_reminders" value="15"[^>]*checked', html)
    assert re.search(r'name="email_mentions"[^>]*checked', html)
    answer = client.post(
        "/notifications/settings/",
        {"email_reminders": "on", "default_reminders": ["0", "1440"]},
    )
    assert answer.status_code == 302 and answer["Location"] == "/notifications/settings/"
    row = settings_for(rep)
    assert (row.email_reminders, row.email_assignments, row.email_mentions) == (True, False, False)
    assert row.default_reminders == [0, 1440]
    assert "Notification settings saved." in client.get(answer["Location"]).content.decode()


def test_settings_page_refuses_more_than_five_reminders_and_keeps_what_was_saved(
    in_a: Tenant, rep: User
) -> None:
    services.notification_settings_update(actor=rep, default_reminders=[30])
    answer = signed_in(in_a, rep).post(
        "/notifications/settings/",
        {"email_reminders": "on", "default_reminders": ["0", "5", "10", "15", "30", "60"]},
    )
    assert answer.status_code == 400
    assert "Choose at most 5 reminders (6 were given)." in answer.content.decode()
    assert settings_for(rep).default_reminders == [30]
    assert settings_for(rep).email_mentions is True


def test_reminders_set_through_the_api_show_and_can_be_unticked(in_a: Tenant, rep: User) -> None:
    services.notification_settings_update(actor=rep, default_reminders=[45, 15])
    client = signed_in(in_a, rep)
    html = client.get("/notifications/settings/").content.decode()
    assert ">45 minutes before</label>" in html
    assert re.search(r'name="default_reminders" value="45"[^>]*checked', html)
    client.post("/notifications/settings/", {"default_reminders": ["15"]})
    assert settings_for(rep).default_reminders == [15]


def test_the_profile_links_to_the_settings(in_a: Tenant, rep: User) -> None:
    html = signed_in(in_a, rep).get("/accounts/profile/").content.decode()
    assert 'href="/notifications/settings/"' in html


def test_times_read_naturally(in_a: Tenant, rep: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _tell(rep, "Fresh")
    old = _tell(rep, "Old")
    Notification.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=3, hours=1)
    )
    html = signed_in(in_a, rep).get("/notifications/").content.decode()
    assert ">just now</time>" in html and ">3\xa0days, 1\xa0hour ago</time>" in html
