"""Texts the system writes on work orders, built in the reader's language when they are shown.

A service that opens an order names its title by a code and parameters (``title_code``,
``title_args``); the page renders ``TITLES[code] % args`` in the active language. The stored
``title`` stays as written (both languages) for search, the audit and rows made before the codes
existed, and is shown when a code is unknown or its parameters do not fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

TITLES: dict[str, Promise] = {
    "case.transfer": _("Arrange transfer: %(where)s"),
    "survey.answer": _("Needs survey: follow up with %(where)s"),
    "case.disinfect": _("Disinfect home and stairwell: %(where)s"),
    "case.household": _("Check on household: %(where)s"),
    "case.contact_test": _("Close contacts' daily test, day %(day)s: %(where)s"),
    "case.monitoring": _("Home health monitoring after discharge (until %(until)s)"),
    "care.needs_help": _("Resident living alone needs help: %(name)s"),
    "care.missed_checkin": _("Missed check-in today: %(name)s (living alone)"),
    "care.escort": _("Escort to treatment: %(name)s, %(when)s"),
    "care.escort_sealed": _("[Sealed building] Escort to treatment: %(name)s, %(when)s"),
    "care.medicine_trip": _("Medicine trip: %(pharmacy)s (%(n)s households)"),
    "supplies.redeliver": _("Deliver supplies again: %(place)s"),
    "testing.retest": _("Door-to-door single-tube re-test: %(name)s (%(place)s)"),
    "request.order": _("%(kind)s: %(place)s · %(text)s"),
    # The demo's orders, written as a secretary would type them, shown in the reader's language.
    "demo.retest": _("Door-to-door single-tube re-test: %(name)s"),
    "demo.medicine": _("Fetch blood-pressure medicine: %(name)s"),
    "demo.supplies": _("Bring supplies to the door: %(name)s"),
    "demo.care": _("Call and visit, living alone: %(name)s"),
    "demo.dialysis": _("Dialysis ride tomorrow morning: %(name)s"),
}


def title_text(
    code: str,
    args: Mapping[str, Any] | None,
    fallback: str,
    coded: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The title in the active language, or ``fallback`` (the stored title). ``coded`` names, per
    title code, the parameters that are themselves codes (a TextChoices), shown by their label."""
    template = TITLES.get(code) if code else None
    if template is None:
        return fallback
    values = dict(args or {})
    for key, choices in (coded or {}).get(code, {}).items():
        if values.get(key) in choices.values:
            values[key] = choices(values[key]).label
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        return fallback
