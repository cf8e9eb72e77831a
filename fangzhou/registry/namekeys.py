"""Pure: a person's name as the letters a volunteer types on a phone. No Django.

"张三丰" is found by "zhangsanfeng", "zhang", "zsf". The given name is read by pypinyin (which knows
the phrase readings of ordinary words); the surname is read as a surname, which pypinyin does not
do on its own: 单 is Shan (not dan), 曾 Zeng (not ceng), 区 Ou, 仇 Qiu, 解 Xie, 查 Zha, 朴 Piao,
尉迟 Yuchi, 万俟 Moqi. Where a volunteer may well type the ordinary reading (单 as "dan"), the
ordinary reading is kept as a second form, so either finds the person.

The key is lowercase ASCII words separated by single spaces ("shantianfang stf dantianfang dtf"):
a query is one run of letters (spaces and apostrophes dropped) and matches when it is a substring of
the key, which PostgreSQL answers from a trigram index.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT

KEY_MAX = 255

# Two-character surnames and their readings (the common ones of the Hundred Family Surnames).
COMPOUND_SURNAMES: dict[str, tuple[str, str]] = {
    "尉迟": ("yu", "chi"),
    "万俟": ("mo", "qi"),
    "单于": ("chan", "yu"),
    "澹台": ("tan", "tai"),
    "长孙": ("zhang", "sun"),
    "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"),
    "上官": ("shang", "guan"),
    "诸葛": ("zhu", "ge"),
    "东方": ("dong", "fang"),
    "皇甫": ("huang", "fu"),
    "令狐": ("ling", "hu"),
    "公孙": ("gong", "sun"),
    "慕容": ("mu", "rong"),
    "宇文": ("yu", "wen"),
    "夏侯": ("xia", "hou"),
    "轩辕": ("xuan", "yuan"),
    "钟离": ("zhong", "li"),
    "闻人": ("wen", "ren"),
    "赫连": ("he", "lian"),
    "呼延": ("hu", "yan"),
    "西门": ("xi", "men"),
    "南宫": ("nan", "gong"),
    "司徒": ("si", "tu"),
    "司空": ("si", "kong"),
    "端木": ("duan", "mu"),
    "独孤": ("du", "gu"),
    "申屠": ("shen", "tu"),
    "公冶": ("gong", "ye"),
    "太史": ("tai", "shi"),
    "濮阳": ("pu", "yang"),
    "淳于": ("chun", "yu"),
    "仲孙": ("zhong", "sun"),
    "乐正": ("yue", "zheng"),
    "百里": ("bai", "li"),
    "第五": ("di", "wu"),
}

# One-character surnames whose surname reading differs from the character's everyday reading.
SURNAMES: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "区": "ou",
    "仇": "qiu",
    "解": "xie",
    "查": "zha",
    "朴": "piao",
    "尉": "wei",
    "乐": "yue",
    "覃": "qin",
    "盖": "ge",
    "缪": "miao",
    "翟": "zhai",
    "召": "shao",
    "黑": "he",
    "繁": "po",
    "句": "gou",
    "种": "chong",
    "员": "yun",
    "秘": "bi",
    "宓": "fu",
    "隗": "wei",
    "那": "na",
    "祭": "zhai",
    "折": "she",
    "蕃": "pi",
    "重": "chong",
    "长": "chang",
    "薄": "bo",
    "卜": "bu",
    "郇": "xun",
    "眭": "sui",
    "能": "nai",
    "柏": "bai",
    "冼": "xian",
    "洗": "xian",
    "都": "du",
    "沈": "shen",
    "训": "xun",
    "阚": "kan",
    "乜": "nie",
    "粘": "nian",
    "过": "guo",
}

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_HAN}]+|[a-z]+")
_QUERY = re.compile(r"^[a-z][a-z' \-·.]*$")


def _pinyin(run: str) -> list[str]:
    return [s for s in lazy_pinyin(run, style=Style.NORMAL, errors="ignore") if s.isascii() and s.isalpha()]


@functools.lru_cache(maxsize=65_536)
def _char_syllables(char: str) -> tuple[str, ...]:
    return tuple(_pinyin(char))


def _has_phrase(run: str) -> bool:
    """Whether some two or more characters of ``run`` form a word pypinyin reads as a phrase."""
    n = len(run)
    if n == 2:  # most names: the same substrings as below, looked up without a generator
        return run in PHRASES_DICT
    if n == 3:
        return run[:2] in PHRASES_DICT or run[1:] in PHRASES_DICT or run in PHRASES_DICT
    return any(run[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1))


def _syllables(run: str) -> list[str]:
    """pypinyin's reading of a run of characters. A run with no phrase in it (most given names) is
    read a character at a time from a cache, which gives the same syllables as reading the run whole
    (pypinyin reads a non-phrase character by character) at a tenth of the cost: a roster import
    reads thousands of names."""
    if _has_phrase(run):
        return _pinyin(run)
    return [s for char in run for s in _char_syllables(char)]


def _readings(name: str) -> list[list[str]]:
    """Each reading of the name as a list of syllables (Latin words count as one syllable each);
    the surname reading first, then the everyday reading if it differs."""
    text = unicodedata.normalize("NFKC", name).lower()
    text = re.sub(rf"(?<=[{_HAN}])\s+(?=[{_HAN}])", "", text)
    runs = _RUNS.findall(text)
    if not runs:
        return []
    first, rest = runs[0], runs[1:]
    tail: list[str] = []
    for run in rest:
        tail.extend(_syllables(run) if not run.isascii() else [run])
    if first.isascii():
        return [[first, *tail]]
    everyday = _syllables(first)
    surname: list[str] | None = None
    if first[:2] in COMPOUND_SURNAMES and len(first) > 2:
        surname = [*COMPOUND_SURNAMES[first[:2]], *_syllables(first[2:])]
    elif first[0] in SURNAMES and len(first) > 1:
        surname = [SURNAMES[first[0]], *_syllables(first[1:])]
    readings = [[*surname, *tail]] if surname else []
    if [*everyday, *tail] not in readings:
        readings.append([*everyday, *tail])
    return readings


def name_search_key(name: str) -> str:
    """The letters that find this name: every reading in full and as initials, a "v" (ü) also as "u".

    >>> name_search_key("张三丰")
    'zhangsanfeng zsf'
    """
    if _PLAIN_HAN.fullmatch(name) and not _has_phrase(name):
        full = name.translate(_FULL)
        if name[0] in SURNAMES or name[:2] in COMPOUND_SURNAMES or "v" in full or len(full) * 2 >= KEY_MAX:
            return _key(_han_readings(name))
        # One reading, no "v" (so no second form), short: the key _key would give, written out.
        initials = name.translate(_INITIALS)
        return full if full == initials else f"{full} {initials}"
    return _key([("".join(r), "".join(s[0] for s in r)) for r in _readings(name)])


def _key(readings: list[tuple[str, str]]) -> str:
    """The key of the readings, each as (full, initials): each word once, in order, with its "v" as
    "u" after it; as many words as fit in KEY_MAX."""
    words: dict[str, None] = {}  # an ordered set: a word seen again keeps its first place
    for reading in readings:
        for word in reading:
            if word:
                words[word] = None
                if "v" in word:
                    words[word.replace("v", "u")] = None
    key = " ".join(words)
    if len(key) <= KEY_MAX:
        return key
    key = ""
    for word in words:
        candidate = f"{key} {word}" if key else word
        if len(candidate) > KEY_MAX:
            break
        key = candidate
    return key


# A name of unified ideographs only (no compatibility ideographs, which NFKC changes, no spaces,
# no Latin): most names on a roster. NFKC, lowercasing and the removal of spaces leave it as it is
# and it is one run, so :func:`_readings` reads it as the run it is.
_PLAIN_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")


class _Letters(dict[int, str]):
    """A character's code → its letters, filled the first time the character is asked for: for
    ``str.translate``, which reads a name's letters a character at a time in one call."""

    def __init__(self, initials: bool) -> None:
        super().__init__()
        self.initials = initials

    def __missing__(self, code: int) -> str:
        syllables = _char_syllables(chr(code))
        letters = self[code] = "".join(s[0] for s in syllables) if self.initials else "".join(syllables)
        return letters


_FULL = _Letters(initials=False)  # the syllables of each character joined (what _char_syllables gives)
_INITIALS = _Letters(initials=True)  # the initial of each of its syllables


def _han_readings(name: str) -> list[tuple[str, str]]:
    """:func:`_readings` of a plain-Han name with no phrase in it, as (full, initials), from one
    table per character. Exact: with no phrase in the name there is none in any part of it, so
    each part reads a character at a time (:func:`_syllables`), and a reading's letters are its
    characters' letters one after another. A reading that gives the same letters as an earlier one
    gives the same words, which :func:`_key` keeps once (as _readings' "not in" keeps it once)."""
    full, initials = name.translate(_FULL), name.translate(_INITIALS)
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        a, b = COMPOUND_SURNAMES[name[:2]]
        rest = name[2:]
        return [(a + b + rest.translate(_FULL), a[0] + b[0] + rest.translate(_INITIALS)), (full, initials)]
    if len(name) > 1 and name[0] in SURNAMES:
        a, rest = SURNAMES[name[0]], name[1:]
        return [(a + rest.translate(_FULL), a[0] + rest.translate(_INITIALS)), (full, initials)]
    return [(full, initials)]


def pinyin_query(query: str) -> str | None:
    """A typed query as the letters to look for in a key, or None when it is not letters.

    "Zhang San Feng", "zhang'sanfeng" and "ZSF" are letters; "张三" and "1201" are not. A single
    letter is too short to mean anyone."""
    text = unicodedata.normalize("NFKC", query).strip().lower()
    if not _QUERY.match(text):
        return None
    letters = re.sub(r"[^a-z]", "", text)
    return letters if len(letters) >= 2 else None


def all_readings(name: str) -> list[str]:
    """Every full reading (for tests and the docs): "单田芳" → ["shantianfang", "dantianfang"]."""
    return ["".join(r) for r in _readings(name)]


__all__ = ["COMPOUND_SURNAMES", "KEY_MAX", "SURNAMES", "all_readings", "name_search_key", "pinyin_query"]
