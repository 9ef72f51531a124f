"""The global search box: contacts and companies (and every later record type) as you type."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .. import search


@login_required
def global_search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[: search.MAX_QUERY]
    partial = bool(request.headers.get("HX-Request"))
    groups = search.global_search(request.user, text, per_entity=5 if partial else 20)
    template = "records/_search_results.html" if partial else "records/search.html"
    return render(request, template, {"q": text, "groups": groups})
