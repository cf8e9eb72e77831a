"""The contacts page: today's follow-up, the district's list, a contact by hand, the chains."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user, can_manage_community
from fangzhou.cases import contacts
from fangzhou.cases.models import Case, CloseContact
from fangzhou.cases.views import case_people_community
from fangzhou.lib.rejected import rejected_download, rejected_keep
from fangzhou.lib.sheets import UnreadableFile
from fangzhou.registry.models import Community, Compound

MAX_UPLOAD = 20 * 1024 * 1024


def _community(request: HttpRequest, code: str, *, write: bool) -> Community | HttpResponse:
    return case_people_community(request, code, refusal=_("Only the committee may record contacts.") if write else None)


def _page(request: HttpRequest, community: Community, **extra: object) -> HttpResponse:
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    raw_compound = request.GET.get("compound", "")
    compound_id = int(raw_compound) if raw_compound.isdigit() else None
    context = {
        "community": community,
        "day": day,
        "follow_up": contacts.contacts_follow_up(community, day),
        "chains": contacts.transmission(community, compound_id),
        "compounds": Compound.objects.filter(community=community).order_by("name"),
        "compound_id": compound_id,
        "cases": Case.objects.filter(community=community, discharged_on__isnull=True)
        .select_related("resident")
        .order_by("-report_date")[:200],
        "close_contacts": CloseContact.objects.filter(case__community=community, degree="close")
        .select_related("resident")
        .order_by("-since")[:200],
        "degrees": CloseContact.Degree.choices,
        "can_write": can_manage_community(request.user, community.pk),
        "today": timezone.localdate(),
        **extra,
    }
    status = 400 if extra.get("error") else 200
    return render(request, "cases/contacts.html", context, status=status)


@login_required
def contact_list(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=False)
    if isinstance(community, HttpResponse):
        return community
    return _page(request, community)


@login_required
@require_POST
def contact_import(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    upload = request.FILES.get("file")
    if upload is None or upload.size is None or upload.size == 0:
        return _page(request, community, error="请选择文件 / choose a file")
    if upload.size > MAX_UPLOAD:
        return _page(request, community, error="文件超过 20 MB / the file is over 20 MB")
    try:
        data = upload.read()
        report = contacts.contacts_import(
            community=community, actor=acting_user(request), data=data, filename=upload.name or "contacts"
        )
    except UnreadableFile as exc:
        return _page(request, community, error=str(exc))
    rejected = [
        {**r, "column": contacts.CONTACT_ALIASES.get(r["column"], (r["column"],))[0]} for r in report.rejections()
    ]
    kept = rejected_keep(
        request,
        f"contacts-{community.pk}",
        data=data,
        filename=upload.name or "contacts",
        columns=contacts.CONTACT_COLUMNS,
        rejections=report.rejections(),
    )
    return _page(request, community, report=report, rejected=rejected, rejected_file=kept)


@login_required
def contact_rejected(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    return rejected_download(request, f"contacts-{community.pk}")


@login_required
@require_POST
def contact_new(request: HttpRequest, code: str) -> HttpResponse:
    community = _community(request, code, write=True)
    if isinstance(community, HttpResponse):
        return community
    post = request.POST
    try:
        since = dt.date.fromisoformat(post.get("since", ""))
    except ValueError:
        return _page(request, community, error="日期格式应为 2022-04-28 / the date must look like 2022-04-28")
    raw_case, raw_via = post.get("case", ""), post.get("via", "")
    try:
        _contact, created = contacts.contact_add(
            community=community,
            case_id=int(raw_case) if raw_case.isdigit() else 0,
            name=post.get("name", "")[:64],
            id_number=post.get("id_number", "")[:32],
            phone=post.get("phone", "")[:32],
            degree=post.get("degree", ""),
            since=since,
            place=post.get("place", "")[:100],
            via_id=int(raw_via) if raw_via.isdigit() else None,
            actor=acting_user(request),
        )
    except contacts.ContactError as exc:
        return _page(request, community, error=exc.reason)
    messages.success(request, _("Contact recorded.") if created else _("This contact was already recorded."))
    return redirect("cases:contacts", code=community.code)
