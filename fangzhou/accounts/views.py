"""Pages for one's own account, and the committee's one-time sign-in links for its colleagues."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from fangzhou.accounts import selectors, services
from fangzhou.accounts.permissions import acting_user, is_manager
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
