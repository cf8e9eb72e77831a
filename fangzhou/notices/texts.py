"""The notices' texts, zh-hans and English, rendered in the reader's language.

Built-in kinds have their template here (gettext, with named variables); a hand-written notice
carries its own two texts. What a text may hold (docs/security.md, "Notices"): the household's own
room label, a building's label, times, a reference number. Never an ID number, a diagnosis or a
person's name; the arguments a kind may use are listed in ``KINDS`` and nothing else is kept.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language, gettext_lazy, override
from django.utils.translation import gettext as _

from fangzhou.volunteers.models import Post
from fangzhou.workorders.models import Status

CUSTOM = "custom"


def _coded() -> dict[str, dict[str, Any]]:
    """Variables stored as codes (a status, a post), shown in the reader's language."""
    return {"status": dict(Status.choices), "post": dict(Post.choices)}


@dataclass(frozen=True)
class Kind:
    label: Any  # lazy: the kind's name in the staff page's picker
    template: Callable[[], str]  # the text with %(name)s variables, in the active language
    args: tuple[str, ...]  # the only variables kept (plain labels and times)
    urgent: bool = False  # goes out during quiet hours
    staff: bool = True  # staff may pick it for a hand-sent notice


KINDS: dict[str, Kind] = {
    "pool_positive": Kind(
        gettext_lazy("Pooled tube to re-test"),
        lambda: _(
            "%(place)s: a pooled tube with a sample of your household needs a re-test. Please stay at"
            " home; staff will come to your door for a single-tube sample. Keep your phone on."
        ),
        ("place",),
        urgent=True,
        staff=False,
    ),
    "single_cleared": Kind(
        gettext_lazy("Re-test finished"),
        lambda: _("%(place)s: the re-test of your household is finished; no further re-test is needed."),
        ("place",),
        staff=False,
    ),
    "single_followup": Kind(
        gettext_lazy("Re-test result: the committee will call"),
        lambda: _("%(place)s: the re-test result is in. The committee will call you; please stay at home."),
        ("place",),
        urgent=True,
        staff=False,
    ),
    "delivery_done": Kind(
        gettext_lazy("Supplies delivered"),
        lambda: _("%(place)s: your supplies (%(distribution)s) are at your door."),
        ("place", "distribution"),
        staff=False,
    ),
    "medicine_ready": Kind(
        gettext_lazy("Medicine delivered"),
        lambda: _("%(place)s: the medicine fetched for your household is at your door."),
        ("place",),
        staff=False,
    ),
    "request_status": Kind(
        gettext_lazy("Request status changed"),
        lambda: _("%(place)s: your request %(reference)s is now: %(status)s."),
        ("place", "reference", "status"),
        staff=False,
    ),
    "escort_time": Kind(
        gettext_lazy("Escort to a treatment"),
        lambda: _("%(place)s: the escort to your treatment leaves at %(time)s. Please be ready downstairs."),
        ("place", "time"),
        urgent=True,
    ),
    "zone_changed": Kind(
        gettext_lazy("Zone status changed"),
        # The zone's name is the rule set's, in both languages (not a gettext word): the English
        # text names it by status_en, the Chinese by status.
        lambda: _("%(building)s is now: %(status_en)s."),
        ("building", "status", "status_en"),
    ),
    "discharged": Kind(
        gettext_lazy("Home health monitoring"),
        lambda: _("%(place)s: a member of your household is back home; home health monitoring ends on %(until)s."),
        ("place", "until"),
        staff=False,
    ),
    "monitoring_end": Kind(
        gettext_lazy("End of home health monitoring"),
        lambda: _("%(place)s: home health monitoring of your household ended today."),
        ("place",),
        staff=False,
    ),
    "shift_new": Kind(
        gettext_lazy("New volunteer shift"),
        lambda: _("You have a new shift: %(post)s, %(time)s."),
        ("post", "time"),
        staff=False,
    ),
    "sampling_time": Kind(
        gettext_lazy("Sampling time"),
        lambda: _("%(building)s: please come down for sampling at %(time)s, at %(site)s. Keep two metres apart."),
        ("building", "time", "site"),
    ),
    CUSTOM: Kind(gettext_lazy("Hand-written notice"), lambda: "", ()),
}

# The variables a hand-written text may use ({place} is the household's own room label).
CUSTOM_VARIABLES = ("place", "building", "time", "site")
# The same variables as staff type them in Chinese.
VARIABLES_ZH = {"房号": "place", "楼栋": "building", "时间": "time", "地点": "site"}


def variables_shown() -> str:
    """The variables a hand-written text may use, in the reader's language."""
    if (get_language() or "zh-hans").startswith("en"):
        return ", ".join(f"{{{name}}}" for name in CUSTOM_VARIABLES)
    return "、".join(f"{{{name}}}" for name in VARIABLES_ZH)


def variables_known() -> set[str]:
    return set(CUSTOM_VARIABLES) | set(VARIABLES_ZH)


# The variables staff fill in when they send a kind by hand (the others come from the audience).
STAFF_VARIABLES = ("time", "site", "status")


def kind_label(kind: str) -> str:
    known = KINDS.get(kind)
    return str(known.label) if known else _("Notice")


def clean_args(kind: str, args: dict[str, Any]) -> dict[str, str]:
    """Only the kind's variables, as short plain strings (nothing else is ever stored)."""
    known = KINDS.get(kind)
    names = known.args if known else ()
    return {name: str(args.get(name, ""))[:80] for name in names}


def variables_of(text: str) -> set[str]:
    """The ``{name}`` variables in a hand-written text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def render(kind: str, args: dict[str, Any], *, text_zh: str = "", text_en: str = "") -> str:
    """One notice's text in the active language (``place`` etc. filled in)."""
    if kind == CUSTOM:
        english = (get_language() or "zh-hans").startswith("en")
        text = (text_en if english and text_en else text_zh) or text_en
        return _format_custom(text, args)
    known = KINDS.get(kind)
    if known is None:
        return _("A notice from your residents' committee")
    values = {name: render_value(name, args.get(name, "")) for name in known.args}
    if "status_en" in values and not values["status_en"]:  # typed by staff in one language
        values["status_en"] = values.get("status", "")
    return str(known.template()) % values


def render_value(name: str, value: Any) -> str:
    """A variable as the reader sees it: a coded one (a status, a post) in the active language."""
    label = _coded().get(name, {}).get(str(value))
    return str(label) if label is not None else str(value)


def _format_custom(text: str, args: dict[str, Any]) -> str:
    values = {name: str(args.get(name, "")) for name in CUSTOM_VARIABLES}
    values.update({alias: values[name] for alias, name in VARIABLES_ZH.items()})
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text  # a stray brace: shown as typed (the compose form refuses unknown variables)


def render_zh(kind: str, args: dict[str, Any], *, text_zh: str = "", text_en: str = "") -> str:
    """The text as an SMS carries it: in Chinese."""
    with override("zh-hans"):
        return render(kind, args, text_zh=text_zh, text_en=text_en)


def recipient_args(household: Any) -> dict[str, str]:
    """The variables that name the receiving household itself (its room, its building)."""
    if household is None:
        return {}
    return {"place": household.full_label, "building": household.building.full_label}


def notice_text(notice: Any, *, place: str = "", building: str = "") -> str:
    """The notice in the active language: the kind's template with its args (``place`` and
    ``building``: the receiving household's own labels), or the typed text."""
    args = dict(notice.args)
    args.update({name: value for name, value in (("place", place), ("building", building)) if value})
    return render(notice.kind, args, text_zh=notice.text_zh, text_en=notice.text_en)
