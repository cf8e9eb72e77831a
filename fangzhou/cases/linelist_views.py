"""Line lists for the district and the CDC: layouts and downloads (committee only)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user
from fangzhou.cases import linelists
from fangzhou.cases.models import LineListLayout
from fangzhou.registry.models import Community
from fangzhou.registry.selectors import community_visible_or_404


def _community(request: HttpRequest, code: str) -> Community:
    community = community_visible_or_404(request.user, code)
    if not linelists.may_export(acting_user(request), community):
        raise Http404(_("Community not found"))
    return community


def _page(
    request: HttpRequest, community: Community, *, error: str = "", form: dict[str, str] | None = None
) -> HttpResponse:
    user = acting_user(request)
    layouts = list(LineListLayout.objects.filter(community=community))
    context = {
        "community": community,
        "layouts": [(layout, linelists.layout_text(layout.columns)) for layout in layouts],
        "kinds": LineListLayout.Kind.choices,
        "fields": {
            kind: [(linelists.DEFAULT_HEADERS[f.key], f.label, bool(f.sensitive)) for f in fields]
            for kind, fields in linelists.FIELDS.items()
        },
        "defaults": {kind: linelists.layout_text(linelists.default_columns(kind)) for kind in linelists.FIELDS},
        "full_allowed": linelists.may_export_full(user, community),
        "error": error,
        "form": form or {},
    }
    return render(request, "cases/line_lists.html", context, status=400 if error else 200)


@login_required
def line_lists(request: HttpRequest, code: str) -> HttpResponse:
    return _page(request, _community(request, code))


@login_required
@require_POST
def layout_save(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code)
    form = {k: request.POST.get(k, "")[:4000] for k in ("kind", "name", "columns")}
    try:
        linelists.layout_save(
            community=community, kind=form["kind"], name=form["name"], text=form["columns"], actor=acting_user(request)
        )
    except linelists.LineListError as exc:
        return _page(request, community, error=exc.reason, form=form)
    messages.success(request, _("Layout saved."))
    return redirect("cases:line_lists", code=community.code)


@login_required
def download(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code)
    kind = request.GET.get("kind", "")
    raw_layout = request.GET.get("layout", "")
    layout = None
    if raw_layout.isdigit():
        layout = LineListLayout.objects.filter(pk=int(raw_layout), community=community, kind=kind).first()
        if layout is None:
            raise Http404(_("Layout not found"))
    try:
        data, _rows = linelists.line_list_export(
            user=acting_user(request),
            community=community,
            kind=kind,
            layout=layout,
            full=request.GET.get("full") == "1",
        )
    except linelists.LineListError as exc:
        return _page(request, community, error=exc.reason)
    name = f"{community.code}-{kind}-{timezone.localdate().isoformat()}.xlsx"
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
