"""Needs surveys (排摸): a short questionnaire the committee sends to households, and the answers."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="surveys")
    title_zh = models.CharField(max_length=100)
    title_en = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    from_xlsform = models.BooleanField(default=False)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title_zh


class Question(models.Model):
    class Kind(models.TextChoices):
        CHOICE = "choice", _("Choice")
        NUMBER = "number", _("Number")
        TEXT = "text", _("Text")
        DATE = "date", _("Date")
        YES_NO = "yes_no", _("Yes or no")
        MEMBERS = "members", _("Which household members")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64)  # the answer's key (XLSForm's "name")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    label_zh = models.CharField(max_length=300)
    label_en = models.CharField(max_length=300, blank=True)
    required = models.BooleanField(default=False)
    # [{"value": "yes", "zh": "是", "en": "Yes"}, ...] for a choice.
    choices: models.JSONField[Any, Any] = models.JSONField(default=list, blank=True)
    # What an answer does: {"when": "yes", "order": "medicine"} raises a work order of that kind;
    # {"special": "dialysis"} (a members question) adds that special-care need to each chosen member.
    action: models.JSONField[Any, Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["survey_id", "position"]
        constraints = [models.UniqueConstraint(fields=["survey", "name"], name="question_name_unique")]

    def __str__(self) -> str:
        return self.name


class Answer(models.Model):
    """One household's answers to a survey (a second answer replaces the first)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers")
    household = models.ForeignKey("registry.Household", on_delete=models.CASCADE, related_name="survey_answers")
    community = models.ForeignKey("registry.Community", on_delete=models.CASCADE, related_name="+")
    values: models.JSONField[Any, Any] = models.JSONField(default=dict)
    # Who answered: a building leader or staff (a user), or the household itself (None).
    answered_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "household"], name="answer_once_per_household")]
        indexes = [models.Index(fields=["survey", "household"], name="answer_survey")]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.household_id}"
