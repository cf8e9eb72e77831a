"""The installable app for the field roles (issue 13): web manifest, service worker, and the list
of pages a phone saves for offline use. Behaviour lives in static files (``fangzhou/sw.js``,
``fangzhou/outbox.js``); see docs/architecture.md, "Offline"."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from fangzhou.accounts.permissions import acting_user, is_leader, is_volunteer
from fangzhou.lib.offline import offline_key
from fangzhou.registry.selectors import buildings_visible
from fangzhou.supplies.selectors import my_work
from fangzhou.testing.models import Round
from fangzhou.testing.selectors import rounds_visible


@require_GET
@login_required
def service_worker(request: HttpRequest) -> HttpResponse:
    """``/sw.js`` from the site root, so that its scope covers every page."""
    found = finders.find("fangzhou/sw.js")
    if not found:
        raise Http404("sw.js")
    path = found if isinstance(found, str) else found[0]
    response = HttpResponse(Path(path).read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@login_required
def manifest(request: HttpRequest) -> HttpResponse:
    data = {
        "name": "方舟 Fangzhou",
        "short_name": "方舟",
        "description": _("Field work of the residents' committee: deliveries, work orders, check-ins."),
        "lang": "zh-Hans",
        "start_url": reverse("workorders:index"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b22222",
        "icons": [
            {"src": static("fangzhou/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("fangzhou/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static("fangzhou/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json")


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: what browsers ask for on pages that name no icon (PDFs, the API docs)."""
    response = HttpResponse(status=301)
    response["Location"] = static("fangzhou/icon-192.png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


MAX_BUILDINGS = 40  # a grid leader's grid; beyond this the phone saves the pages as they are opened


@require_GET
@login_required
def offline_pages(request: HttpRequest) -> JsonResponse:
    """The pages this person needs today, for the phone to save after one visit (their own only)."""
    user = acting_user(request)
    key = offline_key(user)
    urls: list[str] = []
    if key:
        urls.append(reverse("workorders:index"))
        if is_volunteer(user):
            urls.append(reverse("supplies:mine"))
            for a in my_work(user).assignments:
                urls.append(reverse("supplies:building", args=[a.distribution_id, a.building_id]))
        community = getattr(user, "community", None)
        if is_leader(user) and community is not None:
            urls.append(reverse("care:checkins", args=[community.code]))
            rnd = rounds_visible(user).filter(community=community, status=Round.Status.OPEN).order_by("-date").first()
            if rnd is not None:
                urls.append(reverse("testing:doors", args=[rnd.pk]))
            # The antigen glance of my buildings and each one's not-reported list (with the forms
            # to enter a household's results), and the form to type a resident's request.
            urls.append(reverse("testing:antigen", args=[community.code]))
            mine = buildings_visible(user).filter(community=community).order_by("pk")[:MAX_BUILDINGS]
            urls += [reverse("testing:antigen_building", args=[pk]) for pk in mine.values_list("pk", flat=True)]
            urls.append(reverse("workorders:request_type"))
    return JsonResponse({"user": key, "urls": urls})
