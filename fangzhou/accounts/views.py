"""Pages for one's own account, and the committee's one-time sign-in links for its colleagues."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from fangzhou.accounts import selectors, services
from fangzhou.accounts.forms import AccountCreateForm, DeputyForm, HelperForm
from fangzhou.accounts.hooks import CommunityChoice, places
from fangzhou.accounts.models import Deputy, Role, Scope, User
from fangzhou.accounts.permissions import (
    OFFICER_SCOPES,
    accounts_community_q,
    acting_user,
    active_user,
    can_manage_account,
    can_name_deputy,
    can_reset_password,
    creatable_roles,
    is_manager,
    is_officer,
)
from fangzhou.lib.errors import Refused
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


def _account_communities(request: HttpRequest) -> list[CommunityChoice]:
    return places().communities(accounts_community_q(request.user))


def _community_or_404(request: HttpRequest, code: str) -> CommunityChoice:
    for community in _account_communities(request):
        if community.code == code:
            return community
    raise Http404(_("Community not found"))


def _may_see_people(request: HttpRequest) -> bool:
    return is_manager(request.user) or bool(creatable_roles(request.user))


def _back(request: HttpRequest, code: str = "") -> HttpResponse:
    url = reverse("accounts:people") + (f"?c={code}" if code else "")
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _refused(request: HttpRequest, exc: Refused, code: str = "") -> HttpResponse:
    messages.error(request, exc.en if (get_language() or "zh").startswith("en") else exc.zh)
    return _back(request, code)


@login_required
@never_cache
def people(request: HttpRequest) -> HttpResponse:
    """The committee's accounts page: its colleagues (sign-in links, disable, enable), a new account,
    the deputy secretary, the helpers from other communities; the officer's secretaries."""
    if not _may_see_people(request):
        raise Http404(_("Page not found"))
    user = acting_user(request)
    communities = _account_communities(request)
    chosen = next((c for c in communities if c.code == request.GET.get("c")), communities[0] if communities else None)
    roles = creatable_roles(user)
    create_form = None
    if chosen is not None and roles:
        create_form = AccountCreateForm(
            roles=roles,
            communities=communities,
            buildings=places().buildings(chosen.pk),
            initial={"community": chosen.code, "role": Role.BUILDING_LEADER.value},
        )
    subdistricts = {c.pk: c.subdistrict_id for c in communities}
    rows: list[dict[str, Any]] = []
    people = list(selectors.people_for(user)[:500])
    for person in people:
        subdistrict_id = subdistricts.get(person.community_id or 0)
        rows.append(
            {
                "user": person,
                "can_link": person.is_active and can_reset_password(user, person, subdistrict_id=subdistrict_id),
                "can_manage": can_manage_account(user, person, subdistrict_id=subdistrict_id),
            }
        )
    deputy_box = None
    if chosen is not None and can_name_deputy(user, chosen.pk):
        secretary = user if user.role == Role.SECRETARY else None
        candidates = list(selectors.deputy_candidates(chosen.pk, secretary=secretary))
        deputy_box = {
            "community": chosen,
            "current": list(selectors.deputies_current([chosen.pk])),
            "form": DeputyForm(candidates=candidates) if candidates else None,
        }
    helpers = None
    if chosen is not None and roles:
        helpers = {"community": chosen, "people": list(selectors.helpers_of(chosen.pk)), "form": HelperForm()}
    context = {
        "people": rows,
        "communities": communities,
        "chosen": chosen,
        "create_form": create_form,
        "deputy": deputy_box,
        "helpers": helpers,
        "several": len({p.community_id for p in people}) > 1,
    }
    return render(request, "accounts/people.html", context)


@login_required
@require_POST
def account_create(request: HttpRequest) -> HttpResponse:
    if not _may_see_people(request):
        raise Http404(_("Page not found"))
    communities = _account_communities(request)
    code = request.POST.get("community", "")
    community = next((c for c in communities if c.code == code), None)
    if community is None:
        raise Http404(_("Community not found"))
    buildings = places().buildings(community.pk)
    form = AccountCreateForm(
        request.POST, roles=creatable_roles(request.user), communities=communities, buildings=buildings
    )
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[k].label}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        messages.error(request, errors)
        return _back(request, code)
    wanted = set(form.cleaned_data["buildings"])
    try:
        made, created = services.account_create(
            actor=acting_user(request),
            username=form.cleaned_data["username"],
            role=form.cleaned_data["role"],
            community=community,
            display_name=form.cleaned_data["display_name"],
            phone=form.cleaned_data["phone"],
            buildings=[b for b in buildings if str(b.pk) in wanted],
        )
    except Refused as exc:
        return _refused(request, exc, code)
    if created:
        messages.success(
            request, _("Account %(name)s created. Give them a sign-in link to choose a password.") % {"name": made}
        )
    else:
        messages.info(request, _("Account %(name)s already exists; nothing changed.") % {"name": made})
    return _back(request, code)


def _person_or_404(request: HttpRequest, user_id: int) -> User:
    person = selectors.person_get(request.user, user_id)
    if person is None:
        raise Http404(_("Account not found"))
    return person


@login_required
@require_POST
def account_disable(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _person_or_404(request, user_id)
    try:
        services.account_disable(actor=acting_user(request), target=person)
    except Refused as exc:
        return _refused(request, exc)
    messages.success(request, _("%(name)s is disabled and signed out everywhere.") % {"name": person})
    return _back(request)


@login_required
@require_POST
def account_enable(request: HttpRequest, user_id: int) -> HttpResponse:
    person = _person_or_404(request, user_id)
    try:
        services.account_enable(actor=acting_user(request), target=person)
    except Refused as exc:
        return _refused(request, exc)
    messages.success(request, _("%(name)s may sign in again.") % {"name": person})
    return _back(request)


@login_required
@require_POST
def deputy_name(request: HttpRequest, code: str) -> HttpResponse:
    user = acting_user(request)
    community = _community_or_404(request, code)
    if not can_name_deputy(user, community.pk):
        raise Http404(_("Page not found"))
    secretary = user if user.role == Role.SECRETARY else None
    candidates = list(selectors.deputy_candidates(community.pk, secretary=secretary))
    form = DeputyForm(request.POST, candidates=candidates)
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[k].label}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        messages.error(request, errors)
        return _back(request, code)
    deputy = next(u for u in candidates if str(u.pk) == form.cleaned_data["deputy"])
    try:
        services.deputy_name(
            actor=user,
            community=community,
            deputy=deputy,
            starts_at=form.cleaned_data["starts_at"],
            ends_at=form.cleaned_data["ends_at"],
        )
    except Refused as exc:
        return _refused(request, exc, code)
    messages.success(request, _("%(name)s acts as secretary.") % {"name": deputy})
    return _back(request, code)


@login_required
@require_POST
def deputy_end(request: HttpRequest, deputy_id: int) -> HttpResponse:
    user = acting_user(request)
    held = Deputy.objects.filter(pk=deputy_id, community_id__in=[c.pk for c in _account_communities(request)]).first()
    if held is None or not can_name_deputy(user, held.community_id):
        raise Http404(_("Page not found"))
    try:
        services.deputy_revoke(actor=user, deputy_id=held.pk)
    except Refused as exc:
        return _refused(request, exc)
    messages.success(request, _("The deputyship has ended."))
    return _back(request)


@login_required
@require_POST
def helper_add(request: HttpRequest, code: str) -> HttpResponse:
    community = _community_or_404(request, code)
    form = HelperForm(request.POST)
    name = form.data.get("username", "").strip() if form.is_valid() else ""
    person = User.objects.filter(username=name, is_active=True).first() if name else None
    if person is None:
        messages.error(request, _("No active account has this user name."))
        return _back(request, code)
    try:
        services.account_community_add(actor=acting_user(request), target=person, community=community)
    except Refused as exc:
        return _refused(request, exc, code)
    messages.success(request, _("%(name)s now also works in this community.") % {"name": person})
    return _back(request, code)


@login_required
@require_POST
def helper_remove(request: HttpRequest, code: str, user_id: int) -> HttpResponse:
    community = _community_or_404(request, code)
    person = selectors.helpers_of(community.pk).filter(pk=user_id).first()
    if person is None:
        raise Http404(_("Account not found"))
    try:
        services.account_community_remove(actor=acting_user(request), target=person, community=community)
    except Refused as exc:
        return _refused(request, exc, code)
    messages.success(request, _("%(name)s no longer works in this community.") % {"name": person})
    return _back(request, code)


def link_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("accounts:signin_link", args=[token]))


@login_required
@require_POST
@never_cache
def link_make(request: HttpRequest, user_id: int) -> HttpResponse:
    target = selectors.resettable_user_get(request.user, user_id)
    if target is None:
        raise Http404(_("Account not found"))
    try:
        made = services.signin_link_create(user=target, actor=acting_user(request))
    except Refused as exc:
        return _refused(request, exc)
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
