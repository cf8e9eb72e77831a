"""Pages for one's own account, and the committee's one-time sign-in links for its colleagues."""

from __future__ import annotations

import datetime as dt

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from fangzhou.accounts import selectors, services
from fangzhou.accounts.models import Role, Scope
from fangzhou.accounts.permissions import OFFICER_SCOPES, acting_user, active_user, is_manager, is_officer
from fangzhou.lib.ratelimit import public_rate_limited

# The link page signs the user in with the ordinary backend (the link is the credential).
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@login_required
@never_cache
def password_change(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_change(user=user, new_password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, user)
        messages.success(request, _("Password changed. Other devices signed in as you have been signed out."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/password_change.html", {"form": form}, status=status)


@login_required
def people(request: HttpRequest) -> HttpResponse:
    if not is_manager(request.user):
        raise Http404(_("Page not found"))
    return render(request, "accounts/people.html", {"people": selectors.resettable_users(request.user)[:500]})


def link_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("accounts:signin_link", args=[token]))


@login_required
@require_POST
@never_cache
def link_make(request: HttpRequest, user_id: int) -> HttpResponse:
    target = selectors.resettable_user_get(request.user, user_id)
    if target is None:
        raise Http404(_("Account not found"))
    made = services.signin_link_create(user=target, actor=acting_user(request))
    url = link_url(request, made.token)
    svg = segno.make(url, error="m").svg_inline(scale=5, border=2)
    context = {"target": target, "url": url, "svg": svg, "link": made.link}
    return render(request, "accounts/link_made.html", context)


@public_rate_limited
@never_cache
def signin_link(request: HttpRequest, token: str) -> HttpResponse:
    """Open a one-time link: choose a new password, and be signed in. Opening it spends nothing."""
    link = services.signin_link_valid(token)
    if link is None:
        return render(request, "accounts/link_spent.html", status=410)
    form = SetPasswordForm(link.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.signin_link_use(token=token, new_password=form.cleaned_data["new_password1"])
        except services.AccountError:
            return render(request, "accounts/link_spent.html", status=410)
        login(request, user, backend=MODEL_BACKEND)
        messages.success(request, _("Your new password is set; you are signed in."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signin_link.html", {"form": form, "target": link.user}, status=status)


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: object) -> HttpResponse:
    """django-axes' lockout answer: the sign-in page's own look, both languages, 429 with Retry-After."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "accounts/locked.html", {"minutes": max(1, seconds // 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


# --------------------------------------------------------------------------------------------------
# Machine clients' API keys


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name (who uses it)"), max_length=64)
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("What it may do"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expires_days = forms.ChoiceField(
        label=gettext_lazy("Expires"),
        required=False,
        choices=[
            ("30", gettext_lazy("in 30 days")),
            ("90", gettext_lazy("in 90 days")),
            ("365", gettext_lazy("in a year")),
            ("", gettext_lazy("never (revoke it by hand)")),
        ],
    )

    def __init__(self, *args: object, officer: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if officer:  # the officer reads counts: a key that only reads the report
            scopes = self.fields["scopes"]
            assert isinstance(scopes, forms.MultipleChoiceField)
            scopes.choices = [(v, label) for v, label in Scope.choices if v in OFFICER_SCOPES]


def _token_place(request: HttpRequest) -> dict[str, object] | None:
    """Where a key made on the page belongs: the committee's community, the officer's subdistrict."""
    user = active_user(request.user)
    if user is None:
        return None
    if user.role in {Role.SECRETARY, Role.SOCIAL_WORKER} and user.community is not None:
        return {"community": user.community}
    if user.role == Role.SUBDISTRICT_OFFICER and user.subdistrict is not None:
        return {"subdistrict": user.subdistrict}
    return None


@login_required
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    """The API keys of the community (or subdistrict), and making a new one (shown once)."""
    if not (is_manager(request.user) or is_officer(request.user)):
        raise Http404(_("Page not found"))
    place = _token_place(request)
    form = TokenForm(request.POST or None, officer=is_officer(request.user))
    if request.method == "POST" and place is not None and form.is_valid():
        days = int(form.cleaned_data["expires_days"] or 0)
        try:
            made = services.api_token_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
                actor=acting_user(request),
                **place,  # type: ignore[arg-type]
            )
        except services.AccountError as exc:
            form.add_error(None, exc.reason)
        else:
            return render(request, "accounts/token_made.html", {"token": made.token, "key": made.key})
    context = {
        "tokens": selectors.tokens_managed(request.user)[:200],
        "form": form if place is not None else None,
        "place": place,
        "now": timezone.now(),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/tokens.html", context, status=status)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = selectors.token_managed_get(request.user, token_id)
    if token is None:
        raise Http404(_("Key not found"))
    services.api_token_revoke(token=token, actor=acting_user(request))
    messages.success(request, _("The key is revoked: the system using it is refused from now on."))
    return redirect("accounts:tokens")
