from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 handler (a request Django itself refused, e.g. a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE): says what was wrong, in the API's envelope under /api/.
    Nothing was saved: the refusal comes while the request is read."""
    from apps.core.api.errors import ErrorCode, error_response
    from apps.core.middleware import InvalidEncoding, with_security_headers

    status, code, message = 400, ErrorCode.VALIDATION_ERROR, "The request could not be read."
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        status, code = 413, ErrorCode.REQUEST_TOO_LARGE
        message = (
            f"The request is larger than the {limit / 1_048_576:g} MB allowed "
            "(files to import are sent as an upload, which may be larger)."
        )
    elif isinstance(exception, InvalidEncoding):
        message = str(exception)
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        code = ErrorCode.REQUEST_TOO_LARGE
        message = "The request has more fields or files than are allowed."
    # Refused in a middleware (InvalidEncoding), the response skips the ones after it.
    if request.path_info.startswith("/api/"):
        return with_security_headers(error_response(code, message, status))
    page = render(request, "core/bad_request.html", {"message": message}, status=status)
    return with_security_headers(page)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: PostgreSQL and Redis both answer."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this endpoint exists to say what is down
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("readyz", "1", timeout=5)
        checks["redis"] = "ok" if cache.get("readyz") == "1" else "error: no round trip"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The start page: the user's day, their open deals and the new leads they may see,
    each linking to the page that shows them."""
    from django.db.models import Count, Sum

    from apps.activities.selectors import my_day
    from apps.deals.selectors import deal_list
    from apps.leads.selectors import lead_list

    day = my_day(user=request.user)
    open_deals = (
        deal_list(user=request.user, related=False)
        .filter(owner_id=request.user.pk, status="open")
        .order_by()
        .values("currency")
        .annotate(n=Count("pk"), total=Sum("value"))
        .order_by("-total")
    )
    new_leads = lead_list(user=request.user, related=False).filter(status="new").count()
    context = {
        "overdue": day["overdue"],
        "today": [a for a in day["today"] if not a.done],
        "upcoming": day["upcoming"],
        "deal_money": list(open_deals),
        "deal_count": sum(row["n"] for row in open_deals),
        "new_leads": new_leads,
    }
    return render(request, "core/home.html", context)
