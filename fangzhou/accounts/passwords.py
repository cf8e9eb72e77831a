"""The password policy for staff (settings.AUTH_PASSWORD_VALIDATORS): Django's checks of length,
common passwords and all-digit passwords, each saying why in Chinese and English at once (as every
refusal here does), whatever the page's language."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation as pv
from django.core.exceptions import ValidationError


class MinimumLength(pv.MinimumLengthValidator):
    def get_error_message(self) -> str:
        n = self.min_length
        return f"密码太短，至少需要 {n} 个字符。 / This password is too short: use at least {n} characters."

    def get_help_text(self) -> str:
        n = self.min_length
        return f"至少 {n} 个字符 / at least {n} characters"


class NotCommon(pv.CommonPasswordValidator):
    def get_error_message(self) -> str:
        return "这个密码太常见，容易被猜中。 / This password is too common: it is easy to guess."

    def get_help_text(self) -> str:
        return "不能是常见密码 / not a common password"


class NotNumeric(pv.NumericPasswordValidator):
    def get_error_message(self) -> str:
        return "密码不能全是数字。 / This password is entirely numeric: add letters or signs."

    def get_help_text(self) -> str:
        return "不能全是数字 / not only digits"


class NotLikeTheUser(pv.UserAttributeSimilarityValidator):
    def validate(self, password: str, user: Any = None) -> None:
        try:
            super().validate(password, user)
        except ValidationError as exc:
            raise ValidationError(
                "密码与用户名或姓名太像。 / This password is too similar to your user name or name.",
                code="password_too_similar",
            ) from exc

    def get_help_text(self) -> str:
        return "不能与用户名或姓名相似 / not like your user name or name"
