"""Reads for needs surveys, scoped: the committee sees all, a building leader their buildings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import get_language

from fangzhou.accounts.models import User
from fangzhou.accounts.permissions import building_q, can_manage_community
from fangzhou.registry.models import Community, Household
from fangzhou.surveys.models import Answer, Question, Survey


def english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


def text(zh: str, en: str) -> str:
    return en if english() and en else zh


def surveys_visible(user: User | AnonymousUser, community: Community) -> QuerySet[Survey]:
    """The committee: every survey; building and grid leaders and volunteers: the open ones."""
    qs = Survey.objects.filter(community=community)
    if can_manage_community(user, community.pk):
        return qs
    return qs.filter(status=Survey.Status.OPEN)


def households_in_reach(user: User | AnonymousUser, survey: Survey) -> QuerySet[Household]:
    """The households of the survey's community the user may answer for, with ``answered``."""
    answered = Answer.objects.filter(survey=survey, household=OuterRef("pk"))
    return (
        Household.objects.filter(building__community_id=survey.community_id)
        .filter(building_q(user, "building"))
        .select_related("building__compound")
        .annotate(answered=Exists(answered))
        .order_by("building__compound__name", "building__sort_key", "building__number", "room")
    )


@dataclass
class BuildingTally:
    label: str
    households: int = 0
    answered: int = 0


@dataclass
class QuestionTally:
    question: Question
    label: str
    counts: list[tuple[str, int]] = field(default_factory=list)  # (option label, households)
    answered: int = 0


def survey_results(survey: Survey) -> tuple[list[BuildingTally], list[QuestionTally]]:
    """Answers per building and the tally of each question (three queries)."""
    buildings: dict[int, BuildingTally] = {}
    for h in (
        Household.objects.filter(building__community_id=survey.community_id)
        .select_related("building__compound")
        .annotate(answered=Exists(Answer.objects.filter(survey=survey, household=OuterRef("pk"))))
        .order_by("building__compound__name", "building__sort_key", "building__number")
    ):
        tally = buildings.setdefault(h.building_id, BuildingTally(h.building.full_label))
        tally.households += 1
        tally.answered += int(h.answered)
    values = list(Answer.objects.filter(survey=survey).values_list("values", flat=True))
    tallies: list[QuestionTally] = []
    for q in survey.questions.all():
        question = QuestionTally(q, text(q.label_zh, q.label_en))
        answers: list[Any] = [v.get(q.name) for v in values]
        given = [a for a in answers if a not in (None, "", [])]
        question.answered = len(given)
        if q.kind in (Question.Kind.CHOICE, Question.Kind.YES_NO):
            counted = Counter(given)
            question.counts = [(text(c["zh"], c["en"]), counted.get(c["value"], 0)) for c in q.choices]
        elif q.kind == Question.Kind.MEMBERS:
            question.counts = [("", sum(len(a) for a in given))]
        tallies.append(question)
    return list(buildings.values()), tallies


def open_for_household(household: Household) -> list[tuple[Survey, str, bool]]:
    """The open surveys of the household's community, each with its title and whether this
    household answered (one query): what the household page offers."""
    answered = Answer.objects.filter(survey=OuterRef("pk"), household=household)
    rows = (
        Survey.objects.filter(community_id=household.building.community_id, status=Survey.Status.OPEN)
        .annotate(answered=Exists(answered))
        .order_by("-created_at")
    )
    return [(s, text(s.title_zh, s.title_en), bool(getattr(s, "answered", False))) for s in rows]


@dataclass(frozen=True)
class FormQuestion:
    """One question as the answer form shows it, with what was answered (or typed before a refusal)."""

    question: Question
    label: str
    options: list[tuple[str, str]]  # (value, label in the reader's language)
    chosen: set[str]
    value: Any


def answer_form(survey: Survey, values: dict[str, Any]) -> list[FormQuestion]:
    """The survey's questions for the answer form (a leader's or the household's own)."""
    shown = []
    for q in survey.questions.all():
        value = values.get(q.name)
        chosen = {str(v) for v in value} if isinstance(value, list) else {str(value)} if value is not None else set()
        options = [(c["value"], text(c["zh"], c["en"])) for c in q.choices]
        shown.append(FormQuestion(q, text(q.label_zh, q.label_en), options, chosen, value))
    return shown


def form_values(raw: dict[str, list[str]]) -> dict[str, Any]:
    """What a refused form had typed, to show it again."""
    return {k: v if len(v) != 1 else v[0] for k, v in raw.items()}
