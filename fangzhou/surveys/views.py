"""Needs-survey pages: the list, the builder and results (committee), the households to ask and
the answer form (building leaders and the committee), the export."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.permissions import acting_user, can_export, can_manage_community
from fangzhou.lib.sheetwrite import SheetWriter
from fangzhou.registry.models import Community, Household, Resident, SpecialCare
from fangzhou.registry.selectors import community_visible_or_404
from fangzhou.surveys import selectors, services
from fangzhou.surveys.models import Question, Survey
from fangzhou.workorders.models import Kind as OrderKind

MAX_UPLOAD = 5 * 1024 * 1024


def _survey(request: HttpRequest, survey_id: int, *, manage: bool = False) -> Survey:
    survey = Survey.objects.select_related("community").filter(pk=survey_id).first()
    if survey is None:
        raise Http404(_("Survey not found"))
    community_visible_or_404(request.user, survey.community.code)
    if manage and not can_manage_community(request.user, survey.community_id):
        raise Http404(_("Survey not found"))
    if not manage and not selectors.surveys_visible(request.user, survey.community).filter(pk=survey.pk).exists():
        raise Http404(_("Survey not found"))
    return survey


def _list(request: HttpRequest, community: Community, *, error: str = "") -> HttpResponse:
    surveys = list(selectors.surveys_visible(request.user, community))
    context = {
        "community": community,
        "surveys": [(s, selectors.text(s.title_zh, s.title_en)) for s in surveys],
        "can_write": can_manage_community(request.user, community.pk),
        "error": error,
    }
    return render(request, "surveys/list.html", context, status=400 if error else 200)


@login_required
def survey_list(request: HttpRequest, code: str) -> HttpResponse:
    return _list(request, community_visible_or_404(request.user, code))


def _managed(request: HttpRequest, code: str) -> Community | HttpResponse:
    community = community_visible_or_404(request.user, code)
    if not can_manage_community(request.user, community.pk):
        return HttpResponseForbidden(_("Only the committee may build surveys."))
    return community


@login_required
@require_POST
def survey_new(request: HttpRequest, code: str) -> HttpResponse:
    community = _managed(request, code)
    if isinstance(community, HttpResponse):
        return community
    actor = acting_user(request)
    try:
        if request.POST.get("standard"):
            survey = services.survey_standard(community=community, actor=actor)
        elif (upload := request.FILES.get("file")) is not None:
            if (upload.size or 0) > MAX_UPLOAD:
                return _list(request, community, error="文件超过 5 MB / the file is over 5 MB")
            survey = services.survey_from_xlsform(
                community=community, data=upload.read(), filename=upload.name or "form.xlsx", actor=actor
            )
        else:
            survey = services.survey_create(
                community=community,
                title_zh=request.POST.get("title_zh", ""),
                title_en=request.POST.get("title_en", ""),
                actor=actor,
            )
    except services.SurveyError as exc:
        return _list(request, community, error=exc.reason)
    return redirect("surveys:detail", survey_id=survey.pk)


def _detail(request: HttpRequest, survey: Survey, *, error: str = "") -> HttpResponse:
    buildings, tallies = selectors.survey_results(survey)
    questions = [
        (q, selectors.text(q.label_zh, q.label_en), [selectors.text(c["zh"], c["en"]) for c in q.choices])
        for q in survey.questions.all()
    ]
    context = {
        "survey": survey,
        "title": selectors.text(survey.title_zh, survey.title_en),
        "questions": questions,
        "buildings": buildings,
        "tallies": tallies,
        "kinds": Question.Kind.choices,
        "order_kinds": [
            (OrderKind.MEDICINE, OrderKind.MEDICINE.label),
            (OrderKind.HOUSEHOLD_CHECK, OrderKind.HOUSEHOLD_CHECK.label),
        ],
        "specials": SpecialCare.choices,
        "draft": survey.status == Survey.Status.DRAFT,
        "error": error,
    }
    return render(request, "surveys/detail.html", context, status=400 if error else 200)


@login_required
def survey_detail(request: HttpRequest, survey_id: int) -> HttpResponse:
    return _detail(request, _survey(request, survey_id, manage=True))


@login_required
@require_POST
def question_new(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id, manage=True)
    post = request.POST
    try:
        services.question_add(
            survey=survey,
            kind=post.get("kind", ""),
            label_zh=post.get("label_zh", ""),
            label_en=post.get("label_en", ""),
            required=post.get("required") == "1",
            choices_text=post.get("choices", "")[:4000],
            order_kind=post.get("order_kind", ""),
            special=post.get("special", ""),
        )
    except services.SurveyError as exc:
        return _detail(request, survey, error=exc.reason)
    return redirect("surveys:detail", survey_id=survey.pk)


@login_required
@require_POST
def survey_status(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id, manage=True)
    try:
        services.survey_status_set(
            survey_id=survey.pk, status=request.POST.get("status", ""), actor=acting_user(request)
        )
    except services.SurveyError as exc:
        return _detail(request, survey, error=exc.reason)
    return redirect("surveys:detail", survey_id=survey.pk)


@login_required
def survey_households(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    households = list(selectors.households_in_reach(request.user, survey))
    if not households and not can_manage_community(request.user, survey.community_id):
        raise Http404(_("Survey not found"))
    only = request.GET.get("only") == "todo"
    answered = {h.pk for h in households if getattr(h, "answered", False)}
    context: dict[str, object] = {
        "survey": survey,
        "title": selectors.text(survey.title_zh, survey.title_en),
        "households": [h for h in households if not (only and h.pk in answered)],
        "answered": len(answered),
        "total": len(households),
        "only": only,
    }
    return render(request, "surveys/households.html", context)


def _household(request: HttpRequest, survey: Survey, household_id: int) -> Household:
    household = selectors.households_in_reach(request.user, survey).filter(pk=household_id).first()
    if household is None:
        raise Http404(_("Household not found"))
    return household


@login_required
def answer_form(request: HttpRequest, survey_id: int, household_id: int) -> HttpResponse:
    survey = _survey(request, survey_id)
    household = _household(request, survey, household_id)
    error, status = "", 200
    answer = survey.answers.filter(household=household).first()
    values = dict(answer.values) if answer is not None else {}
    if request.method == "POST":
        raw = {key: request.POST.getlist(key) for key in request.POST}
        try:
            _answer, done = services.answer_save(
                survey_id=survey.pk,
                household=household,
                raw=raw,
                actor=acting_user(request),
                client_id=request.POST.get("client_id", ""),
            )
        except services.SurveyError as exc:
            error, status = exc.reason, 400
            values = selectors.form_values(raw)
        else:
            messages.success(request, _("Answers saved.") + (" " + _("Follow-up arranged.") if done else ""))
            return redirect("surveys:households", survey_id=survey.pk)
    members = [(r.pk, r.name) for r in Resident.objects.filter(household=household).order_by("pk")]
    questions = selectors.answer_form(survey, values)
    context = {
        "survey": survey,
        "title": selectors.text(survey.title_zh, survey.title_en),
        "household": household,
        "members": members,
        "questions": questions,
        "error": error,
        "client_id": uuid.uuid4().hex,
    }
    return render(request, "surveys/answer.html", context, status=status)


@login_required
def survey_export(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey(request, survey_id, manage=True)
    if not can_export(request.user, survey.community_id):
        raise Http404(_("Survey not found"))
    questions = list(survey.questions.all())
    sheet = SheetWriter("排摸")
    sheet.header(["楼栋 Building", "室 Room", *[q.label_zh for q in questions], "填写时间 Answered at"])
    names = {r.pk: r.name for r in Resident.objects.filter(household__building__community_id=survey.community_id)}
    rows = 0
    for answer in survey.answers.select_related("household__building__compound").order_by(
        "household__building__compound__name", "household__building__number", "household__room"
    ):
        cells: list[str | int | float | None] = [answer.household.building.full_label, answer.household.room]
        for q in questions:
            value = answer.values.get(q.name)
            if isinstance(value, list):
                cells.append("、".join(names.get(pk, "") for pk in value))
            else:
                label = next((c["zh"] for c in q.choices if c["value"] == value), value)
                cells.append("" if label is None else label if isinstance(label, str | int | float) else str(label))
        cells.append(timezone.localtime(answer.updated_at).strftime("%Y-%m-%d %H:%M"))
        sheet.row(cells, text=True)
        rows += 1
    audit_record(
        action=AuditAction.SURVEY_CHANGE,
        actor=acting_user(request),
        target_type="survey",
        target_id=survey.pk,
        community_id=survey.community_id,
        detail={"step": "export", "rows": rows},
    )
    response = HttpResponse(
        sheet.to_bytes(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response
