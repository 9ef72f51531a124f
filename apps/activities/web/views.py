"""Activity pages: the shared record pages (apps.records.web) for list, detail, sharing and
notes; our own create/edit form (it pre-fills links and times from the query string), "My
day", the calendar with its JSON events and reschedule endpoints, and the private iCalendar
feed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import User
from apps.core import visibility
from apps.core.api.errors import ErrorCode, error_body
from apps.core.ratelimit import rate_limit
from apps.core.urls_util import local_path
from apps.records.merging import MergeSpec
from apps.records.web.forms import RecordForm, ShareForm
from apps.records.web.views import RecordWeb, _refused

from .. import ical, selectors, services
from ..models import Activity, ActivityType, CalendarFeed, Outcome
from ..reminders import PRESETS, default_minutes, describe
from ..services import LINKS, feed_token_hash

LINK_PARAMS = {"contact": "contacts", "company": "companies", "deal": "deals", "lead": "leads"}
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _user_tz(user: Any) -> Any:
    return selectors._tz(user)


class ActivityForm(RecordForm):
    entity = "activity"
    type = forms.ChoiceField(choices=ActivityType.choices, initial=ActivityType.TASK)
    subject = forms.CharField(max_length=200)
    start_at = forms.DateTimeField(
        label="Starts", required=False, widget=DATETIME_WIDGET, help_text="Meetings need one."
    )
    end_at = forms.DateTimeField(label="Ends", required=False, widget=DATETIME_WIDGET)
    due_at = forms.DateTimeField(label="Due", required=False, widget=DATETIME_WIDGET)
    all_day = forms.BooleanField(label="All day", required=False)
    owner = forms.ModelChoiceField(
        label="Assignee", queryset=User.objects.filter(is_active=True), required=False
    )
    location = forms.CharField(max_length=300, required=False)
    body = forms.CharField(
        label="Description", widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    done = forms.BooleanField(label="Done", required=False)
    outcome = forms.ChoiceField(choices=Outcome.choices, required=False)
    reminders = forms.TypedMultipleChoiceField(
        choices=PRESETS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Remind the assignee",
        help_text="Needs a start or due time. Your defaults are in notification settings.",
    )
    contacts = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Contacts"
    )
    companies = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Companies"
    )
    deals = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Deals"
    )
    leads = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Leads"
    )
    # Where to go after saving (the calendar sends its own address).
    next = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)

    def __init__(self, *args: Any, record: Any = None, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, record=record, **kwargs)
        if record is not None:
            for name in ("type", "subject", "all_day", "location", "body", "done", "outcome"):
                self.initial[name] = getattr(record, name)
            for name in ("start_at", "end_at", "due_at"):
                value = getattr(record, name)
                if value is not None and record.all_day:
                    value = value.replace(tzinfo=None)  # all-day dates are the same everywhere
                self.initial[name] = value
            self.initial["owner"] = record.owner_id
            for name in LINKS:
                self.initial[name] = [str(r.pk) for r in getattr(record, name).all()]
            self.initial["reminders"] = [r.minutes_before for r in record.reminders.all()]
        elif user is not None and "reminders" not in self.initial:
            self.initial["reminders"] = default_minutes(user)
        # Offsets set through the API that the presets lack still show, and stay, when editing.
        offered = {value for value, _ in PRESETS}
        extra = [m for m in self.initial.get("reminders") or [] if m not in offered]
        if extra:
            self.fields["reminders"].choices = sorted(  # type: ignore[attr-defined]
                [*PRESETS, *((m, describe(m)) for m in extra)]
            )
        # The link boxes offer what is linked, pre-filled or posted: records the user may see.
        for name, model in LINKS.items():
            wanted = {str(v) for v in self.initial.get(name) or []}
            if self.is_bound:
                wanted |= set(self.data.getlist(name)) if hasattr(self.data, "getlist") else set()
            ids = [int(v) for v in wanted if str(v).isdigit()]
            found = visibility.visible(model.objects.filter(pk__in=ids), user) if ids else []
            choices = [(str(r.pk), str(r)) for r in found]
            self.fields[name].choices = choices  # type: ignore[attr-defined]
            if not choices:
                self.fields[name].widget = forms.MultipleHiddenInput()

    field_order = [
        "type",
        "subject",
        "start_at",
        "end_at",
        "due_at",
        "all_day",
        "owner",
        "location",
        "body",
        "done",
        "outcome",
        "reminders",
    ]


def _form_to_service(form: ActivityForm) -> dict[str, Any]:
    data = form.cleaned_data
    kwargs: dict[str, Any] = {
        name: data[name]
        for name in (
            "type",
            "subject",
            "start_at",
            "end_at",
            "due_at",
            "all_day",
            "location",
            "body",
            "done",
        )
    }
    kwargs["outcome"] = data.get("outcome") or ""
    # Reminders count back from a time; without one the (pre-ticked default) boxes mean nothing.
    timed = data.get("start_at") or data.get("due_at")
    kwargs["reminders"] = list(data.get("reminders") or []) if timed else []
    if data.get("owner"):
        kwargs["owner"] = data["owner"]
    for name in LINKS:
        kwargs[name] = [int(v) for v in data.get(name) or []]
    kwargs["tags"] = form.tag_names()
    kwargs["custom_fields"] = form.custom_values()
    return kwargs


def _merge_refused(**kwargs: Any) -> Any:
    raise PermissionDenied("Activities cannot be merged.")


def _detail_extra(request: HttpRequest, activity: Any) -> dict[str, Any]:
    reminders = list(activity.reminders.all())
    for reminder in reminders:
        reminder.label = describe(reminder.minutes_before)
    return {"share_form": ShareForm(), "outcomes": Outcome.choices, "reminders": reminders}


WEB = RecordWeb(
    key="activity",
    form_class=ActivityForm,
    select=lambda user, params: selectors.activity_list(user=user, params=params),
    get=lambda user, pk: selectors.activity_get(user=user, pk=pk),
    create=lambda *, actor, allow_duplicate=True, **kw: services.activity_create(actor=actor, **kw),
    update=lambda *, actor, allow_duplicate=True, **kw: services.activity_update(actor=actor, **kw),
    delete=services.activity_delete,
    merge=_merge_refused,
    merge_spec=lambda: MergeSpec(entity="activity", model=Activity, fields=[]),
    duplicate_pairs=lambda user: [],
    mergeable=False,
    form_to_service=_form_to_service,
    record_kwarg="activity",
    detail_extra=_detail_extra,
)


def _prefill(request: HttpRequest) -> dict[str, Any]:
    """Initial values from the query string: ?contact=&company=&deal=&lead= (ids), ?start=,
    ?end= (ISO dates or date-times, as the calendar sends them), ?type=."""
    initial: dict[str, Any] = {}
    for param, name in LINK_PARAMS.items():
        ids = [v for v in request.GET.getlist(param) if v.isdigit()]
        if ids:
            initial[name] = ids
    back = local_path(request.GET.get("next", ""))
    if back:
        initial["next"] = back
    kind = request.GET.get("type", "")
    if kind in ActivityType.values:
        initial["type"] = kind
    for param in ("start", "end"):
        raw = request.GET.get(param, "").replace(" ", "+")
        moment = parse_datetime(raw) if "T" in raw else None
        day = parse_date(raw[:10]) if raw and moment is None else None
        if moment is not None:
            if timezone.is_aware(moment):
                moment = timezone.localtime(moment)
            initial[f"{param}_at"] = moment.replace(tzinfo=None)
        elif day is not None:
            if param == "end":  # the calendar's end of an all-day selection is exclusive
                day -= timedelta(days=1)
            initial[f"{param}_at"] = datetime.combine(day, datetime.min.time())
            initial["all_day"] = True
    if "start_at" in initial and "type" not in initial:
        initial["type"] = ActivityType.MEETING
    return initial


def _form_page(request: HttpRequest, record: Activity | None) -> HttpResponse:
    initial = {"owner": request.user.pk, **_prefill(request)} if record is None else {}
    form = ActivityForm(request.POST or None, record=record, user=request.user, initial=initial)
    saved = None
    if request.method == "POST" and form.is_valid():
        validate_only = request.POST.get("validate_only") == "1"
        kwargs = _form_to_service(form)
        try:
            with transaction.atomic():
                if record is None:
                    saved = services.activity_create(actor=request.user, **kwargs)
                else:
                    saved = services.activity_update(actor=request.user, activity=record, **kwargs)
                if validate_only:
                    transaction.set_rollback(True)
                    saved = None
        except ValidationError as exc:
            form.add_service_errors(
                exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            )
        except PermissionDenied as exc:
            return _refused(request, str(exc))
    if saved is not None:
        messages.success(request, "Saved." if record else f"Created {saved}.")
        back = local_path(request.POST.get("next", ""))
        if back:
            return redirect(back)
        return redirect("activities:detail", pk=saved.pk)
    context = {"web": WEB, "entity": WEB.entity, "form": form, "record": record}
    template = (
        "records/_form_body.html" if request.headers.get("HX-Request") else "records/form.html"
    )
    return render(request, template, context)


@login_required
def activity_create(request: HttpRequest) -> HttpResponse:
    if not visibility.can_create(request.user, Activity):
        return _refused(request, "Read-only access cannot create activities.")
    with timezone.override(_user_tz(request.user)):
        return _form_page(request, None)


@login_required
def activity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    activity = selectors.activity_get(user=request.user, pk=pk)
    if not visibility.can_change(request.user, activity):
        return _refused(request, "You may not change this activity.")
    with timezone.override(_user_tz(request.user)):
        return _form_page(request, activity)


# My day --------------------------------------------------------------------------------------


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    with timezone.override(_user_tz(request.user)):
        buckets = selectors.my_day(user=request.user)
        return render(
            request,
            "activities/my_day.html",
            {
                "buckets": buckets,
                "sections": [
                    ("overdue", "Overdue", "Nothing overdue. Well done.", buckets["overdue"]),
                    ("today", "Today", "Nothing planned for today.", buckets["today"]),
                    (
                        "upcoming",
                        "Next 7 days",
                        "Nothing planned for the next 7 days.",
                        buckets["upcoming"],
                    ),
                ],
                "today": selectors.user_today(request.user),
                "outcomes": Outcome.choices,
            },
        )


@login_required
@require_POST
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Tick an activity done (or open again), from My day, a record's page or the detail page;
    htmx gets the row back, others a redirect."""
    activity = selectors.activity_get(user=request.user, pk=pk)
    done = request.POST.get("done", "1") == "1"
    try:
        services.activity_complete(
            actor=request.user,
            activity=activity,
            done=done,
            outcome=request.POST.get("outcome", ""),
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("activities:detail", pk=activity.pk)
    if request.headers.get("HX-Request"):
        with timezone.override(_user_tz(request.user)):
            return render(
                request,
                "activities/_day_item.html",
                {
                    "a": selectors.activity_get(user=request.user, pk=pk),
                    "outcomes": Outcome.choices,
                },
            )
    messages.success(request, "Marked done." if done else "Opened again.")
    back = local_path(request.POST.get("next", ""))
    if back:
        return redirect(back)
    return redirect("activities:detail", pk=activity.pk)


# Calendar ------------------------------------------------------------------------------------


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    teams = list(selectors.calendar_teams(user=request.user))
    feed = CalendarFeed.objects.filter(user_id=request.user.pk or 0).first()
    token = request.session.pop("calendar_feed_token", None)
    context = {
        "teams": teams,
        "see_all": getattr(request.user, "role", None) in visibility.SEE_ALL,
        "feed": feed,
        "feed_url": (
            request.build_absolute_uri(reverse("activities:feed", args=[token]))
            if token and feed
            else ""
        ),
        "can_create": visibility.can_create(request.user, Activity),
        "config": json.dumps(
            {
                "events": reverse("activities:calendar_events"),
                "create": reverse("activities:create"),
                "reschedule": reverse("activities:reschedule", args=[0]),
                "view": request.GET.get("view", "dayGridMonth"),
                "date": request.GET.get("date", ""),
            }
        ),
    }
    return render(request, "activities/calendar.html", context)


def _range(request: HttpRequest, name: str) -> datetime:
    raw = request.GET.get(name, "").replace(" ", "+")
    moment = parse_datetime(raw) if "T" in raw else None
    if moment is None:
        day = parse_date(raw[:10]) if raw else None
        if day is None:
            raise ValidationError({name: "Give a date (YYYY-MM-DD) or an ISO date-time."})
        moment = datetime.combine(day, datetime.min.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, _user_tz(request.user))
    return moment


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _detail_prefix() -> str:
    """The start of every activity's page address ("/activities/"): one reverse() per
    request rather than one per event (the calendar benchmark found a month of 2,000 events
    spending much of its time there)."""
    return reverse("activities:detail", args=[0]).removesuffix("0/")


def _event(activity: Activity, editable: bool, with_owner: bool, prefix: str) -> dict[str, Any]:
    title = activity.subject
    if with_owner:
        title += f" · {activity.owner.get_short_name()}"
    event: dict[str, Any] = {
        "id": str(activity.pk),
        "title": title,
        "allDay": activity.all_day,
        "editable": editable,
        "durationEditable": editable and activity.start_at is not None,
        "classNames": [f"ec-kind-{activity.type}", *(["ec-done"] if activity.done else [])],
        "extendedProps": {
            "type": activity.type,
            "done": activity.done,
            "owner": activity.owner.get_full_name(),
            "url": f"{prefix}{activity.pk}/",
        },
    }
    if activity.all_day:
        first: date = activity.scheduled_at.date()
        last: date = (activity.end_at or activity.scheduled_at).date()
        event["start"] = first.isoformat()
        event["end"] = (last + timedelta(days=1)).isoformat()
    else:
        start = activity.start_at or activity.due_at or activity.scheduled_at
        end = (
            activity.end_at
            if activity.start_at and activity.end_at
            else start + timedelta(minutes=30)
        )
        event["start"], event["end"] = _iso(start), _iso(end)
    return event


@login_required
@require_GET
def calendar_events(request: HttpRequest) -> JsonResponse:
    """The calendar's events between ?start= and ?end= for ?scope=mine|team|all|<team id>."""
    try:
        start, end = _range(request, "start"), _range(request, "end")
        if end <= start or end - start > timedelta(days=62):
            raise ValidationError({"end": "The range must end after its start, within 62 days."})
        scope = request.GET.get("scope", "mine")
        activities = list(
            selectors.calendar_events(user=request.user, start=start, end=end, scope=scope)
        )
    except ValidationError as exc:
        field, problems = next(iter(exc.message_dict.items()))
        return JsonResponse(
            error_body(ErrorCode.VALIDATION_ERROR, " ".join(problems), field=field), status=400
        )
    # One more than the limit was read: if it came, say so rather than show a silent cut.
    truncated = len(activities) > selectors.CALENDAR_MAX_EVENTS
    activities = activities[: selectors.CALENDAR_MAX_EVENTS]
    changeable = selectors.changeable_ids(user=request.user, activities=activities)
    with_owner = scope != "mine"
    prefix = _detail_prefix()
    response = JsonResponse(
        [_event(a, a.pk in changeable, with_owner, prefix) for a in activities], safe=False
    )
    if truncated:
        response["X-Events-Truncated"] = str(selectors.CALENDAR_MAX_EVENTS)
    return response


@login_required
@require_POST
def activity_reschedule(request: HttpRequest, pk: int) -> JsonResponse:
    """Drag and resize on the calendar: JSON (or form) `start`, optional `end` and `all_day`.
    Refusals answer 403/400 with a message the calendar shows before putting the event back."""
    try:
        activity = selectors.activity_get(user=request.user, pk=pk)
    except Http404:
        return JsonResponse(error_body(ErrorCode.NOT_FOUND, "No such activity."), status=404)
    data: Any = request.POST
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
    try:
        start = _parse_moment(request, data.get("start"), "start")
        end = _parse_moment(request, data.get("end"), "end") if data.get("end") else None
        all_day_raw = data.get("all_day")
        all_day = None if all_day_raw in (None, "") else str(all_day_raw).lower() in ("1", "true")
        if all_day and end is not None:
            end -= timedelta(days=1)  # the calendar's all-day ends are exclusive
        services.activity_reschedule(
            actor=request.user, activity=activity, start_at=start, end_at=end, all_day=all_day
        )
    except PermissionDenied as exc:
        return JsonResponse(error_body(ErrorCode.PERMISSION_DENIED, str(exc)), status=403)
    except ValidationError as exc:
        field, problems = next(iter(exc.message_dict.items()))
        return JsonResponse(
            error_body(ErrorCode.VALIDATION_ERROR, " ".join(problems), field=field), status=400
        )
    changeable = selectors.changeable_ids(user=request.user, activities=[activity])
    return JsonResponse(
        {
            "event": _event(activity, activity.pk in changeable, False, _detail_prefix()),
            "message": "Rescheduled.",
        }
    )


def _parse_moment(request: HttpRequest, raw: Any, name: str) -> datetime | date:
    """A date-time (naive ones in the user's time zone), or a date for all-day values."""
    text = str(raw or "").strip().replace(" ", "+")
    moment = parse_datetime(text) if "T" in text else None
    if moment is None:
        day = parse_date(text[:10]) if text else None
        if day is None:
            raise ValidationError({name: "Give a date or an ISO date-time."})
        return day
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, _user_tz(request.user))
    return moment


# iCalendar feed ------------------------------------------------------------------------------


@login_required
@require_POST
def feed_create(request: HttpRequest) -> HttpResponse:
    """Make a new private feed URL (the old one, if any, stops working). The token is kept in
    the session just long enough to show it once on the calendar page."""
    try:
        _, token = services.calendar_feed_create(actor=request.user)
    except PermissionDenied as exc:  # pragma: no cover - a signed-in person always may
        return _refused(request, str(exc))
    request.session["calendar_feed_token"] = token
    messages.success(request, "Your calendar feed is ready: copy its URL now.")
    return redirect(reverse("activities:calendar") + "#subscribe")


@login_required
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    if services.calendar_feed_revoke(actor=request.user):
        messages.success(request, "Calendar feed revoked: its URL no longer works.")
    return redirect(reverse("activities:calendar") + "#subscribe")


@require_GET
@rate_limit(scope="calendar-feed", per_minute=60, methods=("GET",))
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private iCalendar feed: no sign-in, the token is the credential; an unknown or
    revoked token is 404. Looked up in this organisation's schema only."""
    found = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=feed_token_hash(token), user__is_active=True)
        .first()
    )
    if found is None:
        raise Http404("No such calendar.")
    CalendarFeed.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    body = ical.feed_calendar(
        user=found.user,
        activities=selectors.feed_activities(user=found.user),
        base_url=request.build_absolute_uri("/"),
        host=request.get_host().split(":")[0],
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kestrel.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
