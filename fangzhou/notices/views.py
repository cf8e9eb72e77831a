"""The committee's notices page: compose (template and audience), preview with the count and one
rendered example, send after confirming, the list with counts per channel and status, a notice's
recipients (rooms; never a phone), and the community's channel settings."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.permissions import acting_user, can_manage_community
from fangzhou.lib.errors import Refused
from fangzhou.notices import selectors, services, texts
from fangzhou.notices.audiences import LABELS, AudienceError, audience_resolve
from fangzhou.notices.models import Channel, DeliveryStatus, Reason
from fangzhou.notices.services import NoticeError
from fangzhou.notices.texts import CUSTOM, KINDS, STAFF_VARIABLES, variables_of
from fangzhou.registry import selectors as registry_selectors
from fangzhou.registry.models import Building, Community, Household
from fangzhou.registry.selectors import Access, community_visible_or_404
from fangzhou.supplies.models import Distribution
from fangzhou.testing.models import Result, Tube
from fangzhou.volunteers.models import Shift, WorkGroup
from fangzhou.zones.models import MicroZone

# What an audience kind reads from the form, and as what.
AUDIENCE_FIELDS: dict[str, tuple[str, bool]] = {  # kind -> (field, many)
    "building": ("building_ids", True),
    "microzone": ("microzone_id", False),
    "tube": ("tube_id", False),
    "distribution": ("distribution_id", False),
    "household": ("household_id", False),
    "resident": ("resident_id", False),
    "work_group": ("group_id", False),
    "shift": ("shift_id", False),
}
# The templates staff pick from, the everyday ones first.
STAFF_KINDS = ("sampling_time", CUSTOM, "zone_changed", "escort_time")
_PERSONAL = re.compile(r"(?<!\d)(1[3-9]\d{9}|\d{17}[\dXx]|\d{15})(?!\d)")


def _in_language(exc: Refused) -> str:
    return exc.zh if (get_language() or "zh-hans").startswith("zh") else exc.en


@login_required
def home(request: HttpRequest) -> HttpResponse:
    communities = list(registry_selectors.communities_read(request.user))
    if len(communities) == 1:
        return redirect("notices:community", code=communities[0].code)
    return render(request, "notices/home.html", {"communities": communities})


def _pickers(community: Community) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "buildings": list(Building.objects.filter(community=community).select_related("compound")),
        "microzones": list(MicroZone.objects.filter(community=community, dissolved_on__isnull=True)),
        "tubes": list(
            Tube.objects.filter(round__community=community, lab_result__result=Result.POSITIVE).order_by("-pk")[:50]
        ),
        "distributions": list(Distribution.objects.filter(community=community).order_by("-on", "-pk")[:30]),
        "groups": list(WorkGroup.objects.filter(community=community)),
        "shifts": list(
            Shift.objects.filter(community=community, ends_at__gte=timezone.now())
            .select_related("group")
            .order_by("starts_at")[:50]
        ),
        "today": today.isoformat(),
    }


def _page(request: HttpRequest, community: Community, *, form: QueryDict | None = None, **extra: Any) -> HttpResponse:
    form = form if form is not None else request.GET
    manage = can_manage_community(request.user, community.pk)
    context: dict[str, Any] = {
        "community": community,
        "rows": selectors.community_notices(community),
        "manage": manage,
        "form": form,
        "building_ids": form.getlist("building_ids"),
        "kinds": [(code, KINDS[code].label) for code in STAFF_KINDS],
        "audiences": list(LABELS.items()),
        "channels": Channel.choices,
        "statuses": DeliveryStatus.choices,
        "client_id": form.get("client_id") or uuid.uuid4().hex,
        "options": services.notice_settings_of(community.pk),
        "variables": texts.variables_shown(),
        **extra,
    }
    if manage:
        context.update(_pickers(community))
    return render(request, "notices/community.html", context, status=400 if extra.get("error") else 200)


@login_required
def community(request: HttpRequest, code: str) -> HttpResponse:
    found = community_visible_or_404(request.user, code, need=Access.READ)
    return _page(request, found)


def _composed(community: Community, data: QueryDict) -> dict[str, Any]:
    """The form as ``notice_send``'s arguments; ``NoticeError`` with a clear message if it is not usable."""
    kind = data.get("kind", "")
    if kind not in STAFF_KINDS:
        raise NoticeError("请选择通知模板", "choose a template")
    audience = data.get("audience", "")
    if audience not in LABELS:
        raise NoticeError("请选择通知对象", "choose who receives it")
    args: dict[str, Any] = {}
    if audience in AUDIENCE_FIELDS:
        name, many = AUDIENCE_FIELDS[audience]
        picked = [value for value in data.getlist(name) if value.strip()]
        if not picked or not all(value.isdigit() for value in picked):
            raise NoticeError(
                "请选择通知对象的范围（楼栋、试管、分发……）", "choose the audience's buildings, tube, distribution …"
            )
        args[name] = [int(value) for value in (picked if many else picked[:1])]
    if audience == "not_reported":
        try:
            args["day"] = dt.date.fromisoformat(data.get("day", "")).isoformat()
        except ValueError:
            raise NoticeError("日期无效", "the date is not valid") from None
    text_zh, text_en = data.get("text_zh", "").strip(), data.get("text_en", "").strip()
    if kind == CUSTOM:
        if not text_zh:
            raise NoticeError("请填写通知的中文内容", "write the notice's Chinese text")
        unknown = (variables_of(text_zh) | variables_of(text_en)) - texts.variables_known()
        if unknown:
            raise NoticeError(
                f"未知的变量：{'、'.join(sorted(unknown))}", f"unknown variables: {', '.join(sorted(unknown))}"
            )
        if len(text_zh) > 300 or len(text_en) > 600:
            raise NoticeError(
                "通知内容太长（中文最多 300 字）", "the text is too long (300 Chinese characters at most)"
            )
    values = {name: data.get(name, "").strip()[:80] for name in STAFF_VARIABLES}
    if any(_PERSONAL.search(text) for text in (text_zh, text_en, *values.values())):
        raise NoticeError("通知中不能含有手机号或证件号码", "a notice may not contain a phone number or an ID number")
    client_id = data.get("client_id", "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", client_id):
        raise NoticeError("表单编号无效，请刷新页面", "the form's id is not valid; reload the page")
    try:
        reached = audience_resolve(community, audience, args)
    except AudienceError:
        raise NoticeError("无法确定通知对象", "the audience cannot be read") from None
    return {
        "kind": kind,
        "audience": audience,
        "audience_args": args,
        "args": values,
        "text_zh": text_zh,
        "text_en": text_en,
        "event_key": f"form:{client_id}",
        "reached": reached,
    }


def _managed(request: HttpRequest, code: str) -> Community:
    found = community_visible_or_404(request.user, code, need=Access.READ)
    if not can_manage_community(request.user, found.pk):
        raise Http404(_("Community not found"))
    return found


@login_required
@require_POST
def preview(request: HttpRequest, code: str) -> HttpResponse:
    found = _managed(request, code)
    try:
        composed = _composed(found, request.POST)
    except NoticeError as exc:
        return _page(request, found, form=request.POST, error=_in_language(exc))
    reached = composed["reached"]
    first = Household.objects.filter(pk__in=reached.household_ids[:1]).select_related("building__compound").first()
    sample_args = {**composed["args"]}
    if first is not None:
        sample_args.update(place=first.full_label, building=first.building.full_label)
    example = texts.render(composed["kind"], sample_args, text_zh=composed["text_zh"], text_en=composed["text_en"])
    return _page(
        request,
        found,
        form=request.POST,
        preview={"count": reached.count, "households": len(reached.household_ids), "example": example},
    )


@login_required
@require_POST
def send(request: HttpRequest, code: str) -> HttpResponse:
    found = _managed(request, code)
    try:
        composed = _composed(found, request.POST)
        if request.POST.get("confirm") != "yes":
            raise NoticeError("请先预览并确认", "preview and confirm first")
        composed.pop("reached")
        outcome = services.notice_send(community=found, actor=acting_user(request), **composed)
    except NoticeError as exc:
        return _page(request, found, form=request.POST, error=_in_language(exc))
    return redirect("notices:detail", notice_id=outcome.notice.pk)


@login_required
@require_POST
def settings_update(request: HttpRequest, code: str) -> HttpResponse:
    found = _managed(request, code)
    try:
        quiet_start = dt.time.fromisoformat(request.POST.get("quiet_start", ""))
        quiet_end = dt.time.fromisoformat(request.POST.get("quiet_end", ""))
        sms_cap = int(request.POST.get("sms_per_minute", ""))
        push_cap = int(request.POST.get("push_per_minute", ""))
    except ValueError:
        return _page(request, found, error=_in_language(NoticeError("时间或上限无效", "a time or a cap is not valid")))
    try:
        services.notice_settings_update(
            community=found,
            actor=acting_user(request),
            sms_on=request.POST.get("sms_on") == "on",
            push_on=request.POST.get("push_on") == "on",
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            sms_per_minute=sms_cap,
            push_per_minute=push_cap,
        )
    except NoticeError as exc:
        return _page(request, found, error=_in_language(exc))
    return redirect("notices:community", code=found.code)


@login_required
def detail(request: HttpRequest, notice_id: int) -> HttpResponse:
    notice = selectors.notice_get(request.user, notice_id)
    if notice is None:
        raise Http404(_("Not found"))
    registry_selectors.community_time_zone_activate(notice.community)
    recipients = selectors.notice_recipients(notice)
    return render(
        request,
        "notices/detail.html",
        {
            "notice": notice,
            "community": notice.community,
            "text": selectors.example_texts([notice])[notice.pk],
            "counts": selectors.delivery_counts([notice.pk]).get(notice.pk, {}),
            "recipients": recipients,
            "channels": dict(Channel.choices),
            "statuses": dict(DeliveryStatus.choices),
            "reasons": dict(Reason.choices),
            "audience": str(LABELS.get(notice.audience, "")),
        },
    )


@login_required
@require_POST
def resident_sms(request: HttpRequest, resident_id: int) -> HttpResponse:
    """The committee records that a resident wants no SMS notices (or wants them again)."""
    resident = registry_selectors.resident_get(request.user, resident_id)
    if resident is None or not can_manage_community(request.user, resident.community_id):
        raise Http404(_("Not found"))
    if request.POST.get("sms") == "off":
        services.sms_opt_out(resident, actor=acting_user(request))
    else:
        services.sms_opt_in(resident, actor=acting_user(request))
    return redirect("cases:timeline", resident_id=resident.pk)
