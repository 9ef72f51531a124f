"""The web pages every record type shares: list (filters, sort, columns, saved views, bulk
actions), create and edit forms with inline validation, detail with timeline, merge, and the
duplicates page. Each app describes itself in a `RecordWeb` and routes to these views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core import visibility
from apps.core.urls_util import local_path

from .. import customfields, registry, services, timeline
from ..duplicates import DuplicateSuspected, dismiss
from ..merging import MergeSpec
from ..models import Merge, SavedView, TimelineKind

PAGE_SIZE = 50


@dataclass
class RecordWeb:
    key: str
    form_class: Any
    select: Callable[..., Any]  # (user, params) -> queryset
    get: Callable[..., Any]  # (user, pk) -> record or 404
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    merge: Callable[..., Any]
    merge_spec: Callable[[], MergeSpec]
    duplicate_pairs: Callable[..., Any]
    form_to_service: Callable[..., dict[str, Any]]  # (form) -> service kwargs
    record_kwarg: str  # the service's keyword for the record: "contact", "company"
    detail_extra: Callable[..., dict[str, Any]] | None = None
    # Whether the list offers "Duplicates" and bulk "Merge" (contacts, companies, leads).
    mergeable: bool = True

    @property
    def entity(self) -> registry.EntitySpec:
        return registry.get(self.key)

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.entity.url_namespace}:{name}", args=args)


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "companies/refused.html", {"message": message}, status=403)


class TagList(list):
    """A cell holding tags (the template draws them as coloured chips)."""

    is_tags = True


def cell(record: Any, name: str) -> Any:
    """What a list shows in column `name` for `record`."""
    if name.startswith("cf_"):
        value = record.custom_fields.get(name[3:])
        return ", ".join(value) if isinstance(value, list) else value
    if name == "owner":
        return record.owner.get_full_name() if record.owner_id else ""
    if name == "tags":
        return TagList(record.tags.all())
    if name == "company":
        links = list(record.company_links.all())
        return links[0].company.name if links else ""
    display = getattr(record, f"get_{name}_display", None)
    if display is not None:
        return display()
    value = getattr(record, name, "")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return value


def _columns(
    web: RecordWeb, request: HttpRequest, view: SavedView | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entity = web.entity
    available = {
        f.name: f.label
        for f in entity.fields
        if f.name not in ("company_id",) and not f.filter_only
    }
    available["tags"] = "Tags"
    for field in customfields.definitions(entity.key):
        available[f"cf_{field.key}"] = field.label
    wanted = (
        request.GET.getlist("cols")
        or (view.columns if view else [])
        or [
            *entity.default_columns,
            "tags",
        ]
    )
    return [{"name": n, "label": available[n]} for n in wanted if n in available], [
        {"name": n, "label": label, "on": n in wanted} for n, label in available.items()
    ]


def _visible_views(web: RecordWeb, user: Any) -> Any:
    from django.db.models import Q

    return SavedView.objects.filter(Q(owner=user) | Q(shared=True), entity=web.key)


@login_required
def record_export(request: HttpRequest, web: RecordWeb) -> HttpResponseBase:
    """The list as CSV, Excel or JSON (`?format=`): same filters, ordering and permissions,
    every row (not one page)."""
    from ..exporting import UnknownFormat, export_format, export_list

    params = request.GET.copy()
    if "q" in params and "search" not in params:
        params["search"] = request.GET["q"]
    try:
        fmt = export_format(request.GET.get("format"))
        queryset = web.select(request.user, params)
    except UnknownFormat as exc:
        messages.error(request, str(exc))
        kept = request.GET.copy()
        kept.pop("format", None)
        return redirect(f"{web.url('list')}?{kept.urlencode()}" if kept else web.url("list"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(web.url("list"))
    return export_list(
        actor=request.user,
        entity_key=web.key,
        queryset=queryset,
        query=request.GET.urlencode(),
        fmt=fmt,
    )


EXPORT_CHOICES = (("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("json", "JSON"))


def export_links(web: RecordWeb, request: HttpRequest) -> list[dict[str, str]]:
    """The list's Export menu: one link per format, each keeping the list's filters,
    search, ordering and columns."""
    query = request.GET.copy()
    for name in ("page", "format"):
        query.pop(name, None)
    links = []
    for fmt, label in EXPORT_CHOICES:
        query["format"] = fmt
        links.append(
            {"format": fmt, "label": label, "href": f"{web.url('export')}?{query.urlencode()}"}
        )
    return links


@login_required
def record_list(request: HttpRequest, web: RecordWeb) -> HttpResponse:
    entity = web.entity
    if "filter_field" in request.GET:
        # The "Add filter" form: turn field + operator + value into one filter parameter.
        query = request.GET.copy()
        name = query.pop("filter_field")[0] + query.pop("filter_op", [""])[0]
        value = query.pop("filter_value", [""])[0].strip()
        if value and name.replace("__", "").replace("_", "").isalnum():
            query.appendlist(name, value)
        return redirect(f"{request.path}?{query.urlencode()}")
    view = None
    if request.GET.get("view"):
        view = _visible_views(web, request.user).filter(pk=request.GET["view"]).first()
        if view is not None and len(request.GET) == 1:
            return redirect(
                f"{request.path}?{view.query}&view={view.pk}"
                if view.query
                else f"{request.path}?view={view.pk}&cols=" + "&cols=".join(view.columns)
            )
    params = request.GET.copy()
    if "q" in params and "search" not in params:
        params["search"] = request.GET["q"]
    error = ""
    try:
        queryset = web.select(request.user, params)
        page_number = max(1, int(request.GET.get("page", "1") or 1))
        start = (page_number - 1) * PAGE_SIZE
        # One row more than the page tells whether there is a next page without counting.
        rows = list(queryset[start : start + PAGE_SIZE + 1])
    except ValidationError as exc:
        error = (
            "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
            if hasattr(exc, "error_dict")
            else "; ".join(exc.messages)
        )
        rows, page_number = [], 1
    except ValueError:
        raise Http404("No such page.") from None
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    columns, choices = _columns(web, request, view)
    base = request.GET.copy()
    base.pop("page", None)
    filters = [
        (k, v)
        for k, values in request.GET.lists()
        for v in values
        if k not in ("page", "cols", "view", "ordering", "q") and v
    ]
    context = {
        "web": web,
        "entity": entity,
        "rows": [(r, [cell(r, c["name"]) for c in columns]) for r in rows],
        "columns": columns,
        "column_choices": choices,
        "filter_fields": [
            *[(f.name, f.label) for f in entity.fields],
            *[(f"cf_{f.key}", f.label) for f in customfields.definitions(entity.key)],
        ],
        "filters": filters,
        "ordering": request.GET.get("ordering", ""),
        "search": request.GET.get("q", ""),
        "page_number": page_number,
        "has_next": has_next,
        "query": base.urlencode(),
        "export_links": export_links(web, request),
        "error": error,
        "views": _visible_views(web, request.user),
        "current_view": view,
        "can_create": visibility.can_create(request.user, entity.model),
        "tag_names": web.form_class.all_tags(),
        "mergeable": web.mergeable,
    }
    template = "records/_table.html" if request.headers.get("HX-Request") else "records/list.html"
    return render(request, template, context)


def _duplicate_warning(exc: DuplicateSuspected, web: RecordWeb) -> list[dict[str, Any]]:
    return [_candidate(c, web) for c in exc.candidates]


def _candidate(record: Any, web: RecordWeb) -> dict[str, Any]:
    """A suspected duplicate with its page; it may be of another type than the form's (a
    lead's duplicates include contacts), then named with its type."""
    for spec in registry.all_entities():
        if type(record) is spec.model and spec.key != web.key:
            url = reverse(f"{spec.url_namespace}:detail", args=[record.pk])
            return {"record": record, "url": url, "kind": spec.label.lower()}
    return {"record": record, "url": web.url("detail", record.pk)}


def _save(
    request: HttpRequest, web: RecordWeb, record: Any = None
) -> tuple[Any, Any, list[dict[str, Any]]]:
    """Validate and (unless only validating) save the form. Returns the form, the saved record
    (or None) and any duplicate candidates to warn about."""
    form = web.form_class(request.POST or None, record=record)
    duplicates: list[dict[str, Any]] = []
    if request.method != "POST" or not form.is_valid():
        return form, None, duplicates
    validate_only = request.POST.get("validate_only") == "1"
    # Inline validation still reports the duplicates the user chose to allow: the warning,
    # and the ticked "Save it anyway" in it, stay on the form until it is submitted.
    allow = request.POST.get("allow_duplicate") == "1" and not validate_only
    kwargs = web.form_to_service(form)
    try:
        # Inline validation runs the real service and rolls it back: the same rules, no save.
        with transaction.atomic():
            if record is None:
                saved = web.create(actor=request.user, allow_duplicate=allow, **kwargs)
            else:
                saved = web.update(
                    actor=request.user,
                    allow_duplicate=allow,
                    **{web.record_kwarg: record},
                    **kwargs,
                )
            if validate_only:
                transaction.set_rollback(True)
                saved = None
    except DuplicateSuspected as exc:
        return form, None, _duplicate_warning(exc, web)
    except ValidationError as exc:
        form.add_service_errors(
            exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        )
        return form, None, duplicates
    return form, saved, duplicates


@login_required
def record_create(request: HttpRequest, web: RecordWeb) -> HttpResponse:
    if not visibility.can_create(request.user, web.entity.model):
        return _refused(request, "Read-only access cannot create records.")
    try:
        form, saved, duplicates = _save(request, web)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    if saved is not None:
        messages.success(request, f"Created {saved}.")
        return redirect(web.url("detail", saved.pk))
    context = {"web": web, "entity": web.entity, "form": form, "duplicates": duplicates}
    template = (
        "records/_form_body.html" if request.headers.get("HX-Request") else "records/form.html"
    )
    return render(request, template, context, status=200)


@login_required
def record_edit(request: HttpRequest, web: RecordWeb, pk: int) -> HttpResponse:
    record = web.get(request.user, pk)
    if not visibility.can_change(request.user, record):
        return _refused(request, "You may not change this record.")
    try:
        form, saved, duplicates = _save(request, web, record)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    if saved is not None:
        messages.success(request, "Saved.")
        return redirect(web.url("detail", saved.pk))
    context = {
        "web": web,
        "entity": web.entity,
        "form": form,
        "record": record,
        "duplicates": duplicates,
    }
    template = (
        "records/_form_body.html" if request.headers.get("HX-Request") else "records/form.html"
    )
    return render(request, template, context)


@login_required
def record_detail(request: HttpRequest, web: RecordWeb, pk: int) -> HttpResponse:
    record = web.get(request.user, pk)
    custom = [(f.label, record.custom_fields.get(f.key)) for f in customfields.definitions(web.key)]
    items, more = timeline.timeline(
        record, web.key, kind=request.GET.get("kind", ""), user=request.user
    )
    context = {
        "web": web,
        "entity": web.entity,
        "record": record,
        "custom": custom,
        "items": items,
        "more": more,
        "kind": request.GET.get("kind", ""),
        "kinds": TimelineKind.choices,
        "next_page": 2,
        "can_change": visibility.can_change(request.user, record),
        "can_delete": visibility.can_delete(request.user, record),
        "merges": Merge.objects.filter(entity=web.key, survivor_id=record.pk, undone_at=None)[:5],
    }
    if web.detail_extra:
        context.update(web.detail_extra(request, record))
    return render(request, f"{web.entity.url_namespace}/detail.html", context)


@login_required
def record_timeline(request: HttpRequest, web: RecordWeb, pk: int) -> HttpResponse:
    record = web.get(request.user, pk)
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    kind = request.GET.get("kind", "")
    items, more = timeline.timeline(record, web.key, kind=kind, page=page, user=request.user)
    template = (
        "records/_timeline_items.html" if request.GET.get("items") else "records/_timeline.html"
    )
    return render(
        request,
        template,
        {
            "web": web,
            "record": record,
            "items": items,
            "more": more,
            "kind": kind,
            "next_page": page + 1,
            "kinds": TimelineKind.choices,
        },
    )


@login_required
@require_POST
def record_note(request: HttpRequest, web: RecordWeb, pk: int) -> HttpResponse:
    record = web.get(request.user, pk)
    try:
        services.note_add(
            actor=request.user, entity=web.key, record=record, body=request.POST.get("body", "")
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Note added.")
    return redirect(web.url("detail", record.pk))


@login_required
@require_POST
def record_share(request: HttpRequest, web: RecordWeb, pk: int) -> HttpResponse:
    from .forms import ShareForm

    record = web.get(request.user, pk)
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose someone to share with.")
        return redirect(web.url("detail", record.pk))
    try:
        services.record_share(
            actor=request.user, record=record, level=form.cleaned_data["level"], **form.target()
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    messages.success(request, f"Shared {record}.")
    return redirect(web.url("detail", record.pk))


@login_required
@require_POST
def record_delete(request: HttpRequest, web: RecordWeb, pk: int) -> HttpResponse:
    record = web.get(request.user, pk)
    try:
        web.delete(actor=request.user, **{web.record_kwarg: record})
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    messages.success(request, f"Deleted {record}.")
    return redirect(web.url("list"))


@login_required
@require_POST
def record_bulk(request: HttpRequest, web: RecordWeb) -> HttpResponse:
    """Bulk actions on the selected rows: add or remove a tag, delete, or merge."""
    ids = request.POST.getlist("ids")
    action = request.POST.get("action", "")
    back = local_path(request.POST.get("next", "")) or web.url("list")
    if not ids:
        messages.error(request, "Select at least one row first.")
        return redirect(back)
    records = [web.get(request.user, pk) for pk in ids[:500]]
    if action == "merge":
        return redirect(web.url("merge") + "?" + urlencode([("ids", r.pk) for r in records]))
    try:
        if action in ("tag_add", "tag_remove"):
            name = request.POST.get("tag", "").strip()
            if not name:
                raise ValidationError("Name the tag to add or remove.")
            services.tags_bulk_change(
                actor=request.user,
                records=records,
                add=[name] if action == "tag_add" else [],
                remove=[name] if action == "tag_remove" else [],
            )
            done = "Tagged" if action == "tag_add" else "Untagged"
            messages.success(request, f"{done} {len(records)} record(s) with {name}.")
        elif action == "delete":
            for record in records:
                web.delete(actor=request.user, **{web.record_kwarg: record})
            messages.success(request, f"Deleted {len(records)} record(s).")
        else:
            messages.error(request, "Choose an action.")
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(back)


@login_required
def record_merge(request: HttpRequest, web: RecordWeb) -> HttpResponse:
    """Pick the survivor and, per field, whose value survives; then merge."""
    ids = request.GET.getlist("ids") or request.POST.getlist("ids")
    records = [web.get(request.user, pk) for pk in dict.fromkeys(ids)][:10]
    if len(records) < 2:
        messages.error(request, "Choose two or more records to merge.")
        return redirect(web.url("list"))
    spec = web.merge_spec()
    fields = []
    for name in spec.fields:
        values = [(r.pk, cell(r, name)) for r in records]
        if len({str(v) for _, v in values}) > 1:
            label = str(getattr(spec.model._meta.get_field(name), "verbose_name", name))
            label = label.capitalize()
            fields.append({"name": name, "label": label, "values": values})
    for field in customfields.definitions(web.key):
        values = [(r.pk, r.custom_fields.get(field.key)) for r in records]
        if len({str(v) for _, v in values if v is not None}) > 1:
            fields.append({"name": f"cf_{field.key}", "label": field.label, "values": values})
    if request.method == "POST":
        try:
            survivor = next(r for r in records if str(r.pk) == request.POST.get("survivor"))
        except StopIteration:
            messages.error(request, "Choose the record that survives.")
        else:
            chosen = {
                f["name"]: int(request.POST[f"value_{f['name']}"])
                for f in fields
                if request.POST.get(f"value_{f['name']}", "").isdigit()
            }
            try:
                merge = web.merge(
                    actor=request.user,
                    survivor=survivor,
                    merged=[r for r in records if r.pk != survivor.pk],
                    values=chosen,
                )
            except PermissionDenied as exc:
                return _refused(request, str(exc))
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    f"Merged {len(merge.merged_ids)} record(s) into {survivor}. "
                    "You can undo this from the record's page for 30 days.",
                )
                return redirect(web.url("detail", survivor.pk))
    return render(
        request,
        "records/merge.html",
        {"web": web, "entity": web.entity, "records": records, "fields": fields},
    )


@login_required
def record_duplicates(request: HttpRequest, web: RecordWeb) -> HttpResponse:
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
        if len(ids) == 2:
            for pk in ids:
                web.get(request.user, pk)
            dismiss(entity=web.key, a=ids[0], b=ids[1])
            messages.success(request, "Marked as not duplicates.")
        return redirect(web.url("duplicates"))
    pairs = web.duplicate_pairs(user=request.user)
    return render(
        request, "records/duplicates.html", {"web": web, "entity": web.entity, "pairs": pairs}
    )


@login_required
@require_POST
def record_view_save(request: HttpRequest, web: RecordWeb) -> HttpResponse:
    try:
        view = services.savedview_create(
            actor=request.user,
            entity=web.key,
            name=request.POST.get("name", ""),
            query=request.POST.get("query", ""),
            columns=request.POST.getlist("cols"),
            shared=request.POST.get("shared") == "1",
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect(web.url("list"))
    messages.success(request, f"Saved the view {view.name}.")
    return redirect(web.url("list") + f"?view={view.pk}")


@login_required
@require_POST
def record_view_delete(request: HttpRequest, web: RecordWeb, view_pk: int) -> HttpResponse:
    view = _visible_views(web, request.user).filter(pk=view_pk).first()
    if view is None:
        raise Http404("No such view.")
    try:
        services.savedview_delete(actor=request.user, view=view)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    messages.success(request, f"Deleted the view {view.name}.")
    return redirect(web.url("list"))


@login_required
@require_POST
def merge_undo(request: HttpRequest, merge_pk: int) -> HttpResponse:
    merge = Merge.objects.filter(pk=merge_pk).first()
    if merge is None:
        raise Http404("No such merge.")
    entity = registry.get(merge.entity)
    if not entity.selector(request.user).filter(pk=merge.survivor_id).exists():
        raise Http404("No such merge.")
    try:
        survivor = entity.extra["merge_undo"](actor=request.user, merge=merge)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse(f"{entity.url_namespace}:detail", args=[merge.survivor_id]))
    messages.success(request, "Merge undone: the merged records are back.")
    return redirect(reverse(f"{entity.url_namespace}:detail", args=[survivor.pk]))


def record_urls(web: RecordWeb) -> list[Any]:
    """The URL patterns of a record type's pages."""
    from django.urls import path

    def bind(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        def bound(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
            return view(request, web, **kwargs)

        bound.__name__ = view.__name__
        return bound

    return [
        path("", bind(record_list), name="list"),
        path("new/", bind(record_create), name="create"),
        path("bulk/", bind(record_bulk), name="bulk"),
        path("export/", bind(record_export), name="export"),
        path("merge/", bind(record_merge), name="merge"),
        path("duplicates/", bind(record_duplicates), name="duplicates"),
        path("views/", bind(record_view_save), name="view_save"),
        path("views/<int:view_pk>/delete/", bind(record_view_delete), name="view_delete"),
        path("<int:pk>/", bind(record_detail), name="detail"),
        path("<int:pk>/edit/", bind(record_edit), name="edit"),
        path("<int:pk>/delete/", bind(record_delete), name="delete"),
        path("<int:pk>/share/", bind(record_share), name="share"),
        path("<int:pk>/notes/", bind(record_note), name="note"),
        path("<int:pk>/timeline/", bind(record_timeline), name="timeline"),
    ]
