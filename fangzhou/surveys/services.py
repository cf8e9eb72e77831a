"""Writes for needs surveys: building one (by hand, the standard one, or from an XLSForm), opening
and closing it, and a household's answers with what they set off (a work order, a special-care need).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from typing import Any

from django.db import transaction
from django.db.models import Max

from fangzhou.accounts.audit import AuditAction, audit_record
from fangzhou.accounts.models import User
from fangzhou.lib.errors import Refused
from fangzhou.registry.models import Community, Household, Resident, SpecialCare
from fangzhou.surveys.models import Answer, Question, Survey
from fangzhou.workorders.models import Kind as OrderKind
from fangzhou.workorders.models import Priority
from fangzhou.workorders.services import work_order_create_in_transaction

Kind = Question.Kind
YES_NO = [{"value": "yes", "zh": "是", "en": "Yes"}, {"value": "no", "zh": "否", "en": "No"}]
VACCINATION = [
    {"value": "all", "zh": "都已接种（含加强针）", "en": "All vaccinated (with booster)"},
    {"value": "some", "zh": "部分接种", "en": "Some vaccinated"},
    {"value": "none", "zh": "都未接种", "en": "None vaccinated"},
    {"value": "no_elderly", "zh": "家中没有 60 岁以上老人", "en": "Nobody aged 60 or over"},
]


class SurveyError(Refused):
    """Refused by the survey rules (reason in Chinese and English)."""


def _clean(text: str, limit: int) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split())[:limit]


@transaction.atomic(durable=True)
def survey_create(*, community: Community, title_zh: str, title_en: str, actor: User | None) -> Survey:
    title = _clean(title_zh, 100)
    if not title:
        raise SurveyError("请填写问卷标题", "give the survey a title")
    return Survey.objects.create(community=community, title_zh=title, title_en=_clean(title_en, 100), created_by=actor)


def _question_add(survey: Survey, **fields: Any) -> Question:
    position = (survey.questions.aggregate(m=Max("position"))["m"] or 0) + 1
    name = fields.pop("name", "") or f"q{position}"
    return Question.objects.create(survey=survey, position=position, name=name, **fields)


@transaction.atomic(durable=True)
def survey_standard(*, community: Community, actor: User | None) -> Survey:
    """The standard needs survey (主动排摸): dialysis and chemotherapy, medicines running out,
    pregnancy, vaccination of residents aged 60 and over, other needs."""
    survey = Survey.objects.create(
        community=community, title_zh="居民需求排摸", title_en="Residents' needs survey", created_by=actor
    )
    _question_add(
        survey,
        name="dialysis",
        kind=Kind.MEMBERS,
        label_zh="家中谁需要定期血透？（没有则不选）",
        label_en="Who in the household needs regular dialysis? (none: leave empty)",
        action={"special": SpecialCare.DIALYSIS},
    )
    _question_add(
        survey,
        name="chemotherapy",
        kind=Kind.MEMBERS,
        label_zh="家中谁正在化疗或放疗？（没有则不选）",
        label_en="Who is in chemotherapy or radiotherapy? (none: leave empty)",
        action={"special": SpecialCare.CHEMOTHERAPY},
    )
    _question_add(
        survey,
        name="medicine",
        kind=Kind.YES_NO,
        label_zh="家中常用药（如胰岛素、降压药）是否一周内会用完？",
        label_en="Will a regular medicine (insulin, blood pressure…) run out within a week?",
        required=True,
        choices=YES_NO,
        action={"when": "yes", "order": OrderKind.MEDICINE},
    )
    _question_add(
        survey,
        name="pregnant",
        kind=Kind.MEMBERS,
        label_zh="家中是否有孕妇？（没有则不选）",
        label_en="Is anyone pregnant? (none: leave empty)",
        action={"special": SpecialCare.PREGNANT},
    )
    _question_add(
        survey,
        name="vaccination_60",
        kind=Kind.CHOICE,
        label_zh="家中 60 岁以上老人的新冠疫苗接种情况",
        label_en="COVID-19 vaccination of household members aged 60 and over",
        required=True,
        choices=VACCINATION,
    )
    _question_add(
        survey,
        name="other",
        kind=Kind.TEXT,
        label_zh="其他困难或需要（选填）",
        label_en="Other difficulties or needs (optional)",
    )
    return survey


def _choices(text: str) -> list[dict[str, str]]:
    """Choices typed one per line, "中文 / English"."""
    result = []
    for number, line in enumerate(text.splitlines(), start=1):
        zh, _sep, en = (part.strip() for part in line.partition("/"))
        if zh:
            result.append({"value": f"c{number}", "zh": zh[:100], "en": en[:100]})
    return result


@transaction.atomic(durable=True)
def question_add(
    *,
    survey: Survey,
    kind: str,
    label_zh: str,
    label_en: str,
    required: bool,
    choices_text: str = "",
    order_kind: str = "",
    special: str = "",
) -> Question:
    """Add a question to a draft survey (the committee's builder)."""
    if survey.status != Survey.Status.DRAFT:
        raise SurveyError("问卷已发布，不能再改题目", "the survey is already open: questions cannot change")
    if kind not in Kind.values:
        raise SurveyError("题型无效", "unknown kind of question")
    label = _clean(label_zh, 300)
    if not label:
        raise SurveyError("请填写题目（中文）", "write the question (in Chinese)")
    choices: list[dict[str, str]] = []
    if kind == Kind.CHOICE:
        choices = _choices(choices_text)
        if len(choices) < 2:
            raise SurveyError("选择题至少需要两个选项（每行一个，中文 / English）", "a choice needs two options")
    if kind == Kind.YES_NO:
        choices = YES_NO
    action: dict[str, str] = {}
    if order_kind:
        if order_kind not in OrderKind.values or kind != Kind.YES_NO:
            raise SurveyError("只有是非题可以在回答「是」时派单", "only a yes/no question can raise an order on yes")
        action = {"when": "yes", "order": order_kind}
    if special:
        if special not in SpecialCare.values or kind != Kind.MEMBERS:
            raise SurveyError("只有「家中哪些人」题可以加特殊关怀标记", "only a members question can add a care need")
        action = {"special": special}
    return _question_add(
        survey,
        kind=kind,
        label_zh=label,
        label_en=_clean(label_en, 300),
        required=required,
        choices=choices,
        action=action,
    )


# --------------------------------------------------------------------------- XLSForm

XLSFORM_KINDS = {
    "select one": Kind.CHOICE,
    "integer": Kind.NUMBER,
    "decimal": Kind.NUMBER,
    "text": Kind.TEXT,
    "date": Kind.DATE,
}


def _label(labels: Any, language: str) -> str:
    """One language's label of a pyxform label: a plain string or {"中文 (zh)": …, "English (en)": …}."""
    if isinstance(labels, str):
        return labels if language == "zh" else ""
    if not isinstance(labels, dict):
        return ""
    for key, text in labels.items():
        code = re.search(r"\(([^)]+)\)", key)
        lang = (code.group(1) if code else key).lower()
        if lang.startswith(language) or (language == "zh" and ("中文" in key or "chinese" in key.lower())):
            return str(text)
        if language == "en" and "english" in key.lower():
            return str(text)
    if language == "zh":
        return str(next(iter(labels.values()), ""))
    return ""


@transaction.atomic(durable=True)
def survey_from_xlsform(*, community: Community, data: bytes, filename: str, actor: User | None) -> Survey:
    """A draft survey from an XLSForm (the ODK standard), read by pyxform: select_one, integer,
    decimal, text and date questions; labels in Chinese and English where the form has both."""
    from pyxform import xls2xform
    from pyxform.errors import PyXFormError

    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ".xlsx"
    if suffix not in (".xlsx", ".xls", ".csv"):
        raise SurveyError("请上传 XLSForm 表格（.xlsx、.xls 或 .csv）", "upload an XLSForm (.xlsx, .xls or .csv)")
    try:
        result = xls2xform.convert(xlsform=io.BytesIO(data), file_type=suffix, validate=False)
    except (PyXFormError, ValueError, KeyError) as exc:
        raise SurveyError(
            f"无法读取 XLSForm：{str(exc)[:200]}", f"the XLSForm cannot be read: {str(exc)[:200]}"
        ) from exc
    form = result._pyxform
    title = str(form.get("title") or form.get("id_string") or filename)[:100]
    survey = Survey.objects.create(
        community=community, title_zh=title, title_en=title, from_xlsform=True, created_by=actor
    )
    skipped = []
    for child in form.get("children", []):
        kind = XLSFORM_KINDS.get(child.get("type", ""))
        if kind is None:
            if child.get("name") != "meta":
                skipped.append(child.get("name", "?"))
            continue
        choices = [
            {
                "value": str(c["name"]),
                "zh": _label(c.get("label"), "zh")[:100],
                "en": _label(c.get("label"), "en")[:100],
            }
            for c in child.get("choices", [])
        ]
        values = {c["value"] for c in choices}
        if kind == Kind.CHOICE and values == {"yes", "no"}:
            kind, choices = Kind.YES_NO, YES_NO
        _question_add(
            survey,
            name=str(child.get("name"))[:64],
            kind=kind,
            label_zh=_label(child.get("label"), "zh")[:300] or str(child.get("name")),
            label_en=_label(child.get("label"), "en")[:300],
            required=str(child.get("bind", {}).get("required", "")).lower() in ("yes", "true", "true()"),
            choices=choices,
        )
    if not survey.questions.exists():
        raise SurveyError("XLSForm 中没有可用的题目", "the XLSForm has no question this survey can ask")
    audit_record(
        action=AuditAction.SURVEY_CHANGE,
        actor=actor,
        target_type="survey",
        target_id=survey.pk,
        community_id=community.pk,
        detail={"step": "xlsform", "questions": survey.questions.count(), "skipped": skipped[:20]},
    )
    return survey


@transaction.atomic(durable=True)
def survey_status_set(*, survey_id: int, status: str, actor: User | None) -> Survey:
    survey = Survey.objects.select_for_update().get(pk=survey_id)
    if status not in Survey.Status.values:
        raise SurveyError("状态无效", "unknown status")
    if status == Survey.Status.OPEN and not survey.questions.exists():
        raise SurveyError("问卷还没有题目", "the survey has no question yet")
    if survey.status != status:
        survey.status = status
        survey.save(update_fields=["status"])
        audit_record(
            action=AuditAction.SURVEY_CHANGE,
            actor=actor,
            target_type="survey",
            target_id=survey.pk,
            community_id=survey.community_id,
            detail={"step": status},
        )
    return survey


# --------------------------------------------------------------------------- answers


def _value(question: Question, raw: list[str], members: dict[int, Resident]) -> Any:
    """The checked value of one question from the form's raw list, or raises SurveyError."""
    label = question.label_zh[:30]
    text = _clean(raw[0], 1000) if raw else ""
    if question.kind == Kind.MEMBERS:
        chosen = sorted({int(v) for v in raw if v.isdigit()})
        if any(pk not in members for pk in chosen):
            raise SurveyError(f"「{label}」选了不是本户的人", f"{question.name}: someone not of this household")
        if question.required and not chosen:
            raise SurveyError(f"请回答「{label}」", f"please answer {question.name}")
        return chosen
    if not text:
        if question.required:
            raise SurveyError(f"请回答「{label}」", f"please answer {question.name}")
        return None
    if question.kind in (Kind.CHOICE, Kind.YES_NO):
        if text not in {c["value"] for c in question.choices}:
            raise SurveyError(f"「{label}」的选项无效", f"{question.name}: not one of the options")
        return text
    if question.kind == Kind.NUMBER:
        try:
            number = float(text)
        except ValueError:
            raise SurveyError(f"「{label}」应为数字", f"{question.name} must be a number") from None
        if not -1e9 < number < 1e9:
            raise SurveyError(f"「{label}」数字太大", f"{question.name}: the number is too large")
        return int(number) if number.is_integer() else number
    if question.kind == Kind.DATE:
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise SurveyError(
                f"「{label}」日期格式应为 2022-04-28", f"{question.name}: a date like 2022-04-28"
            ) from None
    return text


@transaction.atomic(durable=True)
def answer_save(
    *, survey_id: int, household: Household, raw: dict[str, list[str]], actor: User | None, client_id: str = ""
) -> tuple[Answer, list[str]]:
    """A household's answers (by the household itself, a leader or staff): checked, stored once per
    household (a second answer replaces the first), and acted on once — a work order per question
    and household, a special-care need added to each chosen member. Returns the answer and what it set off."""
    survey = Survey.objects.filter(pk=survey_id, community_id=household.building.community_id).first()
    if survey is None or survey.status != Survey.Status.OPEN:
        raise SurveyError("这份问卷未开放", "this survey is not open")
    members = {r.pk: r for r in Resident.objects.filter(household=household)}
    questions = list(survey.questions.all())
    values = {q.name: _value(q, raw.get(q.name, []), members) for q in questions}
    answer, created = Answer.objects.update_or_create(
        survey=survey,
        household=household,
        defaults={
            "values": values,
            "answered_by": actor,
            "client_id": client_id[:64],
            "community_id": survey.community_id,
        },
    )
    done = _act(survey, household, questions, values, members, actor)
    audit_record(
        action=AuditAction.SURVEY_ANSWER,
        actor=actor,
        target_type="survey",
        target_id=survey.pk,
        community_id=survey.community_id,
        detail={"household": household.pk, "created": created, "actions": len(done)},
    )
    return answer, done


def _act(
    survey: Survey,
    household: Household,
    questions: list[Question],
    values: dict[str, Any],
    members: dict[int, Resident],
    actor: User | None,
) -> list[str]:
    done: list[str] = []
    where = household.full_label
    for q in questions:
        value = values.get(q.name)
        order = q.action.get("order")
        if order and value == q.action.get("when"):
            _order, created = work_order_create_in_transaction(
                community=survey.community,
                kind=order,
                title=f"排摸跟进 Needs survey: follow up with {where}",
                title_code="survey.answer",
                title_args={"where": where},
                detail=f"{q.label_zh} {q.label_en}".strip()[:500],
                actor=actor,
                priority=Priority.URGENT,
                household=household,
                source_key=f"survey:{survey.pk}:{q.name}:{household.pk}",
            )
            if created:
                done.append(f"order:{order}")
        special = q.action.get("special")
        if special and isinstance(value, list):
            for pk in value:
                resident = members[pk]
                codes = resident.special_codes
                if special in codes:
                    continue
                resident.special = ",".join([*codes, special])
                resident.save(update_fields=["special", "updated_at"])
                audit_record(
                    action=AuditAction.RESIDENT_UPDATE,
                    actor=actor,
                    target_type="resident",
                    target_id=resident.pk,
                    community_id=survey.community_id,
                    detail={"special_added": special, "by": "survey", "survey": survey.pk},
                )
                done.append(f"special:{special}")
    return done
