"""The hosted web form page `/f/<public_id>/` on the organisation's subdomain: no login, made
to be framed by the organisation's own website.

Why no CSRF token: the page is embedded cross-site in an iframe, where the CSRF cookie
(SameSite=Lax) is never sent with the POST, so Django's check would refuse every honest
visitor. Making it work would need SameSite=None cookies for the whole subdomain, weakening the
app everywhere else. CSRF protects actions taken with a victim's credentials; this form has
none to abuse (it is anonymous and only creates a lead). It is guarded instead by a signed,
expiring token bound to the form (a bot must fetch the page first), a honeypot field, and a
per-IP rate limit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from apps.core.ratelimit import client_ip, rate_limit
from apps.records.models import CustomField
from apps.records.web.forms import form_field

from ..models import WebForm
from ..webforms import TRACKING, webform_submit

SIGNING_SALT = "leads.webform"
TOKEN_MAX_AGE = 24 * 3600
HONEYPOT = "website"  # a tempting name for bots; hidden from people by a CSS class
SUBMISSIONS_PER_MINUTE = 10


def _widget(target: str) -> forms.Field:
    if target == "email":
        return forms.EmailField(max_length=254)
    if target == "phone":
        return forms.CharField(max_length=40, widget=forms.TextInput(attrs={"type": "tel"}))
    if target == "notes":
        return forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
    return forms.CharField(max_length=200)


class HostedForm(forms.Form):
    """The visitor's form: the web form's fields plus hidden tracking fields, the token and
    the honeypot."""

    def __init__(self, *args: Any, web_form: WebForm, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        custom = {f"cf_{f.key}": f for f in CustomField.objects.filter(entity="lead")}
        self.targets: list[str] = []
        for row in web_form.fields.all():
            if row.target.startswith("cf_"):
                definition = custom.get(row.target)
                if definition is None or definition.archived:
                    continue
                field = form_field(definition)
                field.help_text = definition.help_text
            else:
                field = _widget(row.target)
            field.label = row.label
            field.required = row.required
            if row.placeholder:
                field.widget.attrs["placeholder"] = row.placeholder
            if row.required:
                field.widget.attrs["required"] = "required"
            self.fields[row.target] = field
            self.targets.append(row.target)
        for name in (*TRACKING, "ref", "landing"):
            self.fields[name] = forms.CharField(
                required=False, max_length=1000, widget=forms.HiddenInput
            )
        self.fields["token"] = forms.CharField(required=False, widget=forms.HiddenInput)
        self.fields[HONEYPOT] = forms.CharField(
            required=False,
            label="Leave this empty",
            widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
        )

    def visible_fields(self) -> list[Any]:
        return [self[name] for name in self.targets]

    def tracking(self) -> dict[str, str]:
        data = self.cleaned_data
        values = {name: data.get(name, "") for name in TRACKING}
        values["referrer"] = data.get("ref", "")
        values["landing_page"] = data.get("landing", "")
        return values


def _token(web_form: WebForm) -> str:
    return signing.dumps({"f": web_form.public_id}, salt=SIGNING_SALT)


def _token_ok(web_form: WebForm, token: str) -> bool:
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return False
    return isinstance(data, dict) and data.get("f") == web_form.public_id


def _framable(response: HttpResponseBase, web_form: WebForm) -> HttpResponseBase:
    """Any site may frame this page (the organisation embeds it in its website); everything
    else about the strict policy stays. Form posts may go to the form's redirect address."""
    policy = settings.CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
    if web_form.redirect_url:
        parts = urlsplit(web_form.redirect_url)
        policy = policy.replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
        )
    response["Content-Security-Policy"] = policy
    return response


def _initial(request: HttpRequest, web_form: WebForm) -> dict[str, str]:
    """Tracking values from the page's query string (the embed snippet passes the embedding
    page's UTM values, `ref` and `landing`), falling back to the Referer header."""
    initial = {name: request.GET.get(name, "")[:200] for name in TRACKING}
    initial["ref"] = (request.GET.get("ref") or request.headers.get("Referer", ""))[:1000]
    initial["landing"] = (request.GET.get("landing") or request.build_absolute_uri())[:1000]
    initial["token"] = _token(web_form)
    return initial


@csrf_exempt
@xframe_options_exempt
def hosted_form(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """The form, its validation and its submission; every answer (the 429 of the rate limit
    too) may be shown inside the embedding site's iframe."""
    web_form = (
        WebForm.objects.filter(public_id=public_id, active=True).prefetch_related("fields").first()
    )
    if web_form is None:
        raise Http404("No such form.")
    return _framable(_serve(request, web_form), web_form)


@rate_limit(scope="webform", per_minute=SUBMISSIONS_PER_MINUTE, methods=("POST",))
def _serve(request: HttpRequest, web_form: WebForm) -> HttpResponseBase:
    if request.method == "POST":
        form = HostedForm(request.POST, web_form=web_form)
    else:
        form = HostedForm(initial=_initial(request, web_form), web_form=web_form)
    status = 200
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data.get(HONEYPOT):
            # A bot filled the hidden field: it sees success, nothing is created.
            return _done(request, web_form)
        if not _token_ok(web_form, form.cleaned_data.get("token", "")):
            form.add_error(None, "This form had expired. Please check your answers and send again.")
        else:
            values = {name: form.cleaned_data.get(name) for name in form.targets}
            try:
                webform_submit(
                    form=web_form,
                    values=values,
                    tracking=form.tracking(),
                    ip_address=client_ip(request),
                )
            except PermissionDenied:  # closed while the visitor was typing
                raise Http404("No such form.") from None
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {}
                for key, problems in errors.items() or [(None, exc.messages)]:
                    form.add_error(key if key in form.targets else None, problems)
            else:
                return _done(request, web_form)
    if request.method == "POST":
        status = 400
        # A fresh token, so a visitor who fixes a mistake is never turned away as expired.
        data = request.POST.copy()
        data["token"] = _token(web_form)
        form.data = data
    return render(
        request, "webforms/hosted.html", {"web_form": web_form, "form": form}, status=status
    )


def _done(request: HttpRequest, web_form: WebForm) -> HttpResponse:
    if web_form.redirect_url:
        return HttpResponseRedirect(web_form.redirect_url)
    return render(request, "webforms/thanks.html", {"web_form": web_form})
