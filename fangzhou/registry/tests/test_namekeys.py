"""A name as the letters a volunteer types: pinyin, initials, surnames read as surnames."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from fangzhou.registry.namekeys import (
    COMPOUND_SURNAMES,
    KEY_MAX,
    SURNAMES,
    _readings,
    _syllables,
    all_readings,
    name_search_key,
    pinyin_query,
)


def finds(query: str, name: str) -> bool:
    letters = pinyin_query(query)
    return letters is not None and letters in name_search_key(name)


@pytest.mark.parametrize("query", ["zsf", "ZSF", "zhang", "zhangsanfeng", "Zhang San Feng", "zhang'san", "sanfeng"])
def test_zhang_sanfeng_by_pinyin_and_initials(query: str) -> None:
    assert finds(query, "张三丰")


@pytest.mark.parametrize(
    ("name", "surname_reading", "initials"),
    [
        ("单田芳", "shantianfang", "stf"),
        ("曾志伟", "zengzhiwei", "zzw"),
        ("区志强", "ouzhiqiang", "ozq"),
        ("仇英", "qiuying", "qy"),
        ("解缙", "xiejin", "xj"),
        ("查良镛", "zhaliangyong", "zly"),
        ("朴树", "piaoshu", "ps"),
        ("尉迟恭", "yuchigong", "ycg"),
        ("万俟卨", "moqixie", "mqx"),
        ("乐嘉", "yuejia", "yj"),
        ("覃海洋", "qinhaiyang", "qhy"),
        ("翟天临", "zhaitianlin", "ztl"),
        ("欧阳修", "ouyangxiu", "oyx"),
    ],
)
def test_heteronym_surnames_are_read_as_surnames(name: str, surname_reading: str, initials: str) -> None:
    key = name_search_key(name)
    assert all_readings(name)[0] == surname_reading
    assert surname_reading in key.split()
    assert initials in key.split()


def test_the_everyday_reading_of_a_surname_still_finds_the_person() -> None:
    # A volunteer who has never met a 单 types "dan".
    assert finds("dantianfang", "单田芳")
    assert finds("shan", "单田芳")
    # pypinyin alone reads 曾 as "ceng": without the surname table "zeng" would miss.
    assert finds("zeng", "曾志伟")


def test_a_one_character_name_is_not_read_as_a_surname() -> None:
    assert name_search_key("单") == "dan d"


def test_u_umlaut_is_found_as_v_and_as_u() -> None:
    assert finds("lv", "吕布")
    assert finds("lubu", "吕布")


def test_minority_and_latin_names() -> None:
    assert finds("ayiguli", "阿依古丽·买买提")
    assert finds("maimaiti", "阿依古丽·买买提")
    assert finds("js", "John Smith")
    assert finds("smith", "John Smith")


@pytest.mark.parametrize("query", ["", "z", "张三", "1201", "3-101", "zs1"])
def test_what_is_not_a_pinyin_query(query: str) -> None:
    assert pinyin_query(query) is None


def test_initials_do_not_run_into_the_next_word() -> None:
    # "fengz" would join the end of the full reading to the start of the initials.
    assert not finds("fengz", "张三丰")


@given(st.text(max_size=80))
def test_any_name_gives_a_short_lowercase_ascii_key(name: str) -> None:
    key = name_search_key(name)
    assert len(key) <= KEY_MAX
    assert key == key.strip()
    assert all(("a" <= ch <= "z") or ch == " " for ch in key)


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=4))
def test_every_chinese_name_is_found_by_its_initials_and_full_reading(name: str) -> None:
    assume(all(lazy_pinyin(ch, errors="ignore") for ch in name))  # a character without a reading: below
    key = name_search_key(name).split()
    readings = all_readings(name)
    assert readings
    assert readings[0] in key
    assert readings[0][0] in {w[0] for w in key if len(w) == len(name)}  # the initials, one per character


def test_a_character_without_a_reading_leaves_the_rest_of_the_name_findable() -> None:
    # 瓼 has no reading in pypinyin (Hypothesis found it): 丁瓼 is found by what can be read of it.
    assert lazy_pinyin("瓼", errors="ignore") == []
    assert name_search_key("丁瓼").split() == ["ding", "d"]


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=4))
def test_a_name_read_a_character_at_a_time_reads_as_pypinyin_reads_it_whole(run: str) -> None:
    # The roster import's fast reading of a non-phrase run must give the same key as pypinyin.
    assert _syllables(run) == [s for s in lazy_pinyin(run, style=Style.NORMAL, errors="ignore") if s.isalpha()]


@pytest.mark.parametrize("run", ["长江", "重庆", "银行", "张长生", "解放军", "单于", "曾经", "伟芳", "音乐家"])
def test_phrases_keep_their_phrase_reading(run: str) -> None:
    assert _syllables(run) == lazy_pinyin(run, style=Style.NORMAL, errors="ignore")


def ref_key(name: str) -> str:
    """name_search_key as it was before its plain-Han path (every name through _readings)."""
    words: list[str] = []
    for syllables in _readings(name):
        full = "".join(syllables)
        initials = "".join(s[0] for s in syllables)
        for word in (full, initials):
            for form in dict.fromkeys((word, word.replace("v", "u"))):
                if form and form not in words:
                    words.append(form)
    key = ""
    for word in words:
        candidate = f"{key} {word}" if key else word
        if len(candidate) > KEY_MAX:
            break
        key = candidate
    return key


# Surnames read as surnames, compound surnames, characters read with ü, words read as phrases
# (长江, 音乐), characters of Extension A and compatibility ideographs, spaces and Latin.
NAME_CHARS = (
    st.sampled_from(
        [*SURNAMES, *"".join(COMPOUND_SURNAMES), *"吕女绿律略长江重庆银行生解放军经伟芳音乐家", "\u3400", "\u4db5"]
    )
    | st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
    | st.sampled_from(["\uf900", "\ufa0e", " ", "a", "·", "Z"])
)


@settings(max_examples=600, deadline=None)
@given(st.text(NAME_CHARS, min_size=1, max_size=5) | st.text(NAME_CHARS, min_size=40, max_size=64))
def test_the_plain_han_path_gives_the_key_of_the_full_reading(name: str) -> None:
    assert name_search_key(name) == ref_key(name)


@pytest.mark.parametrize("name", ["吕女", "单田芳", "欧阳娜娜", "欧阳", "单", "长江", "张三丰", "绿" * 64, "张" * 64])
def test_the_plain_han_path_on_the_cases_it_writes_out(name: str) -> None:
    assert name_search_key(name) == ref_key(name)


def test_nfkc_leaves_the_plain_han_ranges_alone() -> None:
    # The plain-Han path skips _readings' NFKC: it must not change any character it lets through.
    for code in [*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)]:
        char = chr(code)
        assert unicodedata.normalize("NFKC", char) == char == char.lower()
