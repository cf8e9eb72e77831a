"""The one kind of error a user is told about: a refusal with its reason in Chinese and English.

Each app subclasses it (``CaseError``, ``WorkOrderError`` …) so callers can catch what they
expect; pages show ``zh`` (and ``en``), the API returns both, the CLI prints both.
"""

from __future__ import annotations


class Refused(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en

    @property
    def reason(self) -> str:
        return f"{self.zh} / {self.en}"
