"""The logits processor that makes classical Chinese form exact: `ChineseFormLogitsProcessor`.

It masks the logits at every step so that only legal tokens remain: CJK characters inside a line (exactly 5 or 7),
then `，` on odd lines and `。` on even lines, a newline, and `</s>` right after the last line; the acrostic's
characters, the 平水韵 rhyme, the 平仄 tone rules, the no-stutter rule and the keyword plan are masks of the same kind
(see `generation.py` for what each one promises). A rule that a vocabulary cannot satisfy at some step is relaxed
for that step and recorded in `relaxed`.

Constrained decoding after Jiuge / CharPoet's form control (Zhipeng Guo et al., 2019, "Jiuge: A Human-Machine
Collaborative Chinese Classical Poetry Generation System"; Yu et al., 2024, "CharPoet", arXiv:2401.03512).
"""

from __future__ import annotations

import random
import threading
import weakref
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from .prosody import FORMS, is_han, rhyme_groups, tone_of

NEG_INF = float("-inf")


class _Vocabulary:
    """Per-token facts about a tokenizer's vocabulary, computed once."""

    def __init__(self, tokenizer, need_prosody: bool):
        size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
        self.size = size
        self.char = [None] * size
        for token, index in tokenizer.get_vocab().items():
            if is_han(token):
                self.char[index] = token
        self.han = torch.tensor([c is not None for c in self.char])
        self.comma = tokenizer.convert_tokens_to_ids("，")
        self.period = tokenizer.convert_tokens_to_ids("。")
        self.newline = tokenizer.convert_tokens_to_ids("\n")
        self.eos = tokenizer.eos_token_id
        unk = tokenizer.unk_token_id
        for name in ("comma", "period"):
            if getattr(self, name) in (None, unk):
                raise ValueError(f"The tokenizer has no single token for {'，' if name == 'comma' else '。'}; "
                                 "train it with neuroart.poetry.train_poetry_tokenizer.")
        if self.newline == unk:
            self.newline = None
        self.index = {c: i for i, c in enumerate(self.char) if c is not None}
        if need_prosody:
            tones = [tone_of(c) if c else "unknown" for c in self.char]
            self.strict_ping = torch.tensor([t == "ping" for t in tones])
            self.strict_ze = torch.tensor([t == "ze" for t in tones])
            self.groups: dict[str, torch.Tensor] = {}
            self.char_groups = [rhyme_groups(c) if c else set() for c in self.char]
            for i, groups in enumerate(self.char_groups):
                for group in groups:
                    self.groups.setdefault(group, torch.zeros(size, dtype=torch.bool))[i] = True
            self.any_rhyme = torch.tensor([bool(g) for g in self.char_groups])


_VOCABULARIES = weakref.WeakKeyDictionary()  # tokenizer -> {(vocabulary size, need_prosody): _Vocabulary}
_VOCABULARIES_LOCK = threading.Lock()


def _vocabulary_of(tokenizer, need_prosody: bool) -> _Vocabulary:
    """The `_Vocabulary` of a tokenizer, built on its first poem and kept while the tokenizer lives (a poem
    otherwise spends about a tenth of its time rebuilding the prosody tables). Rebuilt if tokens are added."""
    key = (len(tokenizer), need_prosody)
    try:
        with _VOCABULARIES_LOCK:
            cached = _VOCABULARIES.setdefault(tokenizer, {})
            if key not in cached:
                cached[key] = _Vocabulary(tokenizer, need_prosody)
            return cached[key]
    except TypeError:  # a tokenizer that cannot be weakly referenced or hashed
        return _Vocabulary(tokenizer, need_prosody)


@dataclass
class _LineState:
    lines: list[list[str]]  # finished lines' characters
    current: list[str]  # characters of the line being written
    punctuated: bool  # the current line has its end mark, waiting for the newline
    done: bool


class ChineseFormLogitsProcessor(LogitsProcessor):
    """Masks logits so generated text is exactly the `form` (see the module docstring)."""

    def __init__(self, tokenizer, form: str, prompt_length: int, acrostic: str | None = None, rhyme: bool = True,
                 tone: bool = False, vocabulary: _Vocabulary | None = None, keywords=None, no_stutter: bool = True,
                 num_rows: int = 1, seed: int = 0, keyword_margin: float = 2.0, echo_penalty: float = 1.5,
                 reuse_penalty: float = 2.0, double_penalty: float = 1.0):
        if form not in FORMS:
            raise ValueError(f"form={form!r} is not a classical form; use one of {list(FORMS)}.")
        self.num_lines, self.line_length = FORMS[form]
        self.prompt_length = prompt_length
        self.rhyme, self.tone = rhyme, tone
        self.vocab = vocabulary or _vocabulary_of(tokenizer, need_prosody=rhyme or tone)
        self.acrostic = None
        if acrostic:
            if len(acrostic) != self.num_lines or not all(is_han(c) for c in acrostic):
                raise ValueError(f"acrostic={acrostic!r} must be {self.num_lines} CJK characters for {form}.")
            missing = [c for c in acrostic if c not in self.vocab.index]
            if missing:
                raise ValueError(f"acrostic characters {missing} are not in the tokenizer's vocabulary.")
            self.acrostic = [self.vocab.index[c] for c in acrostic]
        self.relaxed: list[str] = []
        self.no_stutter = no_stutter
        # A character twice in one line, apart: the poets do it on purpose (花落花开, 射人先射马) in 2-3% of their
        # lines; the model, mostly by slip (月暗夜深夜, 高阁登高阁), in 5-9%. So it costs `echo_penalty` nats rather
        # than being banned: the 1.5 was chosen to bring the model to the Tang poets' rate (docs/releases/poetry.md).
        self.echo_penalty = echo_penalty
        # A character of an earlier line used again (客情愁思尽，客路暗思偏): 1.0-1.6% of the held-out Tang poets'
        # characters, 5-11% of the model's, whose poems circled one image (秋天 ... 秋月 ... 秋风). `reuse_penalty`
        # nats, chosen like the echo penalty, bring it to the poets' rate; keywords keep their own limit.
        self.reuse_penalty = reuse_penalty
        # Held back there, the model doubled instead (陪诏诏, 故故篇): 叠字 in 7% of its lines, the poets' 4%. The
        # poets' own (萧萧, 青青) are near-certain to the model and barely feel `double_penalty`; its slips do.
        self.double_penalty = double_penalty
        self.keywords = self._usable_keywords(keywords or [])
        # Each keyword character at most twice in the poem (or as often as the keywords ask for it): a forced
        # keyword sets the context, and the model would otherwise echo it (明月 ... 明月 ... 明月).
        asked = "".join(self.keywords)
        self.keyword_limit = {c: max(2, asked.count(c)) for c in set(asked)}
        self.keyword_chars = set(asked)
        rng = random.Random(seed)
        self.plans = [self._plan(rng) for _ in range(num_rows)]  # one keyword placement per candidate row
        # A planned keyword goes in where the model itself finds it likely: at the first place in its line where its
        # first character is within `keyword_margin` nats of the model's favourite allowed token, else at the
        # deadline. Forced only at the deadline, keywords bunched at line ends (a third of them), where the
        # model had least say.
        self.keyword_margin = keyword_margin

    # -- keywords (Jiuge-style planning: each keyword gets a line; it is forced in before that line ends) ----------
    def _usable_keywords(self, keywords) -> list[str]:
        usable = []
        for word in keywords:
            word = "".join(c for c in str(word) if is_han(c))
            if not word:
                continue
            missing = [c for c in word if c not in self.vocab.index]
            if missing:
                self.relaxed.append(f"keyword {word}: {''.join(missing)} not in the vocabulary")
            elif len(word) > self._usable_length(0):
                self.relaxed.append(f"keyword {word}: longer than a line")
            else:
                usable.append(word)
        return usable

    def _usable_length(self, line_index: int) -> int:
        """Positions of a line a keyword may take: not the acrostic's first character, not a rhymed line end."""
        start = 1 if self.acrostic is not None else 0
        end = self.line_length - (1 if self.rhyme and line_index % 2 == 1 else 0)
        return end - start

    def _plan(self, rng: random.Random) -> dict[int, list[str]]:
        """{line index: keywords to place in it}: distinct lines while they last, then the roomiest line."""
        lines = list(range(self.num_lines))
        rng.shuffle(lines)
        plan: dict[int, list[str]] = {}
        for i, word in enumerate(self.keywords):
            candidates = lines[i:] + lines[:i]
            for line in candidates:
                if sum(map(len, plan.get(line, []))) + len(word) <= self._usable_length(line):
                    plan.setdefault(line, []).append(word)
                    break
            else:
                self.relaxed.append(f"keyword {word}: no room left in any line")
        return plan

    def _keyword_force(self, state: _LineState, plan: dict[int, list[str]]) -> str | None:
        """The character that must come next for the current line's planned keywords, or None (free choice)."""
        line_index, position = len(state.lines), len(state.current)
        written = "".join("".join(line) for line in state.lines)
        current = "".join(state.current)
        pending = [w for w in plan.get(line_index, []) if w not in written + current]
        if not pending:
            return None
        for word in pending:  # a keyword begun at the end of the current line is finished first
            for k in range(len(word) - 1, 0, -1):
                if current.endswith(word[:k]):
                    return word[k]
        end = self.line_length - (1 if self.rhyme and line_index % 2 == 1 else 0)
        if end - position <= sum(map(len, pending)):  # the deadline: just enough room left for what is pending
            return pending[0][0]
        return None

    def _keyword_start(self, state: _LineState, plan: dict[int, list[str]]) -> str | None:
        """The first character of the current line's next pending keyword, if the keyword still fits from here."""
        line_index, position = len(state.lines), len(state.current)
        if (self.acrostic is not None and position == 0) or line_index >= self.num_lines:
            return None
        written = "".join("".join(line) for line in state.lines) + "".join(state.current)
        pending = [w for w in plan.get(line_index, []) if w not in written]
        end = self.line_length - (1 if self.rhyme and line_index % 2 == 1 else 0)
        if pending and position + len(pending[0]) <= end:
            return pending[0][0]
        return None

    def _state(self, tokens: list[int]) -> _LineState:
        lines, current, punctuated, done = [], [], False, False
        for token in tokens:
            if token == self.vocab.eos:
                done = True
                break
            if token in (self.vocab.comma, self.vocab.period):
                punctuated = True
            elif token == self.vocab.newline:
                lines.append(current)
                current, punctuated = [], False
            elif self.vocab.char[token] is not None:
                current.append(self.vocab.char[token])
        if punctuated and self.vocab.newline is None:  # no newline token: the mark ends the line
            lines.append(current)
            current, punctuated = [], False
        return _LineState(lines, current, punctuated, done)

    def _key_tone(self, lines: list[list[str]], index: int) -> str | None:
        """The tone the 2nd character of line `index` should have, from earlier lines (对 and 粘)."""
        if index == 0:
            return None
        previous = lines[index - 1]
        base = tone_of(previous[1]) if len(previous) > 1 else "unknown"
        if base not in ("ping", "ze"):
            earlier = self._key_tone(lines, index - 1)
            if earlier is None:
                return None
            base = earlier
        opposite = {"ping": "ze", "ze": "ping"}[base]
        return opposite if index % 2 == 1 else base  # 对 within a couplet, 粘 across couplets

    def _stutter_mask(self, state: _LineState, plan: dict[int, list[str]] | None = None) -> torch.Tensor:
        """Tokens that would stutter: a character a third time in the poem (so in a row or in a line too), or a
        repeated line. Tang and Song poets use a character three times in 2-4% of their 绝句 and 律诗 (重字 is
        avoided); the model, left to itself, did in about a fifth of its poems, and in half of those with a title
        (秋 ... 秋 ... 秋), so the cap is the poets' practice, not a style imposed on them."""
        v = self.vocab
        banned = torch.zeros(v.size, dtype=torch.bool)
        current = state.current
        used = [char for line in state.lines for char in line] + current
        # The planned keywords not yet written keep their characters' uses in reserve: a keyword forced in later
        # must not make a third (故 ... 乡 ... 乡, then 故乡).
        written = "".join(used)
        reserved = "".join(w for words in (plan or {}).values() for w in words if w not in written)
        for char in set(used) | set(reserved):  # doubled (青青) stays allowed, a third one not, unless asked for
            if used.count(char) + reserved.count(char) >= self.keyword_limit.get(char, 2) and char in v.index:
                banned[v.index[char]] = True
        if len(current) == self.line_length - 1:  # the last character may not repeat an earlier line
            for line in state.lines:
                if len(line) == self.line_length and line[:-1] == current and line[-1] in v.index:
                    banned[v.index[line[-1]]] = True
        return banned

    def _char_mask(self, state: _LineState, plan: dict[int, list[str]] | None = None) -> torch.Tensor:
        """Allowed tokens for the next character of the current line."""
        v = self.vocab
        line_index, position = len(state.lines), len(state.current)
        if self.acrostic is not None and position == 0:
            mask = torch.zeros(v.size, dtype=torch.bool)
            mask[self.acrostic[line_index]] = True
            return mask
        forced = self._keyword_force(state, plan) if plan else None
        mask = v.han.clone()
        if self.no_stutter:
            mask &= ~self._stutter_mask(state, plan)
        if self.keyword_limit and not self.no_stutter:  # the stutter mask caps keywords too, when it is on
            poem = "".join("".join(line) for line in state.lines) + "".join(state.current)
            for char, limit in self.keyword_limit.items():
                if poem.count(char) >= limit:
                    mask[v.index[char]] = False
        last = position == self.line_length - 1
        even_line = line_index % 2 == 1
        rules = []
        if self.rhyme and last and even_line:
            established = None
            for line in state.lines[1::2]:
                groups = v.char_groups[v.index[line[-1]]] if line and line[-1] in v.index else set()
                established = groups if established is None else (established & groups or established)
            if established:
                rhyme_mask = torch.zeros(v.size, dtype=torch.bool)
                for group in established:
                    rhyme_mask |= v.groups[group]
            else:
                rhyme_mask = v.any_rhyme
            rules.append(("rhyme", rhyme_mask))
            fresh = torch.ones(v.size, dtype=torch.bool)
            for line in state.lines:  # no 重韵: a rhyme character is not used twice at line ends
                if line and line[-1] in v.index:
                    fresh[v.index[line[-1]]] = False
            rules.append(("repeated rhyme", fresh))  # after the rhyme: it gives way first
        if self.tone:
            if last:
                if even_line:
                    rules.append(("tone", ~v.strict_ze))
                elif line_index >= 2:
                    rules.append(("tone", ~v.strict_ping))
            elif position in (1, 3, 5):
                lines = state.lines + [state.current]
                key = self._key_tone(lines, line_index)
                if key is None and position > 1 and len(state.current) > 1:
                    key = tone_of(state.current[1]) if tone_of(state.current[1]) in ("ping", "ze") else None
                if key is not None:
                    wanted = key if position in (1, 5) else {"ping": "ze", "ze": "ping"}[key]
                    rules.append(("tone", ~(v.strict_ze if wanted == "ping" else v.strict_ping)))
        if forced is not None:  # a planned keyword: it wins, and any rule it breaks is said
            mask = torch.zeros(v.size, dtype=torch.bool)
            mask[v.index[forced]] = True
            for name, rule in rules:
                if not rule[v.index[forced]]:
                    self.relaxed.append(f"{name} at line {line_index + 1}, character {position + 1} (keyword {forced})")
            return mask
        for name, rule in rules:
            if (mask & rule).any():
                mask &= rule
            else:
                self.relaxed.append(f"{name} at line {line_index + 1}, character {position + 1}")
        return mask

    def allowed(self, tokens: list[int], row: int = 0, state: _LineState | None = None) -> torch.Tensor:
        """(V,) bool: the tokens allowed after `tokens` (the poem so far; `state`, its reading, when already made)."""
        v = self.vocab
        state = state if state is not None else self._state(tokens)
        mask = torch.zeros(v.size, dtype=torch.bool)
        if state.done or len(state.lines) >= self.num_lines:
            mask[v.eos] = True
        elif state.punctuated:
            mask[v.newline] = True
        elif len(state.current) < self.line_length:
            mask = self._char_mask(state, self.plans[row % len(self.plans)] if self.plans else None)
        else:
            line_number = len(state.lines) + 1
            mask[v.comma if line_number % 2 else v.period] = True
        return mask

    def _keyword_now(self, state: _LineState, row: int, mask: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """`mask`, or only the pending keyword's first character where the model finds it likely enough here."""
        if state.done or state.punctuated or len(state.current) >= self.line_length:
            return mask
        char = self._keyword_start(state, self.plans[row % len(self.plans)])
        index = self.vocab.index.get(char) if char else None
        if index is None or index >= scores.shape[0] or not mask[index]:
            return mask
        allowed = scores.float().masked_fill(~mask[: scores.shape[0]].to(scores.device), NEG_INF)
        if allowed[index] < allowed.max() - self.keyword_margin:
            return mask
        only = torch.zeros_like(mask)
        only[index] = True
        return only

    def _echoes(self, state: _LineState) -> tuple[list[int], list[int], list[int]]:
        """Token ids of the characters that would come again: those of the line being written, apart from the one
        just written; those of earlier lines but not this one; and the one just written (a doubling: 青青).
        Keywords are left to their own limit."""
        if state.done or state.punctuated or len(state.current) >= self.line_length:
            return [], [], []
        index = self.vocab.index
        in_line = set(state.current[:-1])
        earlier = {c for line in state.lines for c in line} - in_line - self.keyword_chars
        just = set(state.current[-1:]) - in_line - self.keyword_chars
        return ([index[c] for c in in_line if c in index], [index[c] for c in earlier if c in index],
                [index[c] for c in just if c in index])

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        blocked = torch.ones(scores.shape, dtype=torch.bool)  # (B, V)
        penalty = torch.zeros(scores.shape)  # (B, V) nats
        for row in range(input_ids.shape[0]):
            tokens = input_ids[row, self.prompt_length :].tolist()
            state = self._state(tokens)  # read once per row and step: the masks and the echoes share it
            mask = self.allowed(tokens, row, state)
            width = min(mask.shape[0], scores.shape[1])
            if self.plans and self.plans[row % len(self.plans)] and int(mask.sum()) > 1:
                mask = self._keyword_now(state, row, mask, scores[row, :width])
            blocked[row, :width] = ~mask[:width]
            if self.no_stutter and (self.echo_penalty or self.reuse_penalty or self.double_penalty):
                in_line, earlier, just = self._echoes(state)
                penalty[row, [i for i in just if i < width]] = self.double_penalty
                penalty[row, [i for i in earlier if i < width]] = self.reuse_penalty
                penalty[row, [i for i in in_line if i < width]] = self.echo_penalty
        # Out of place: generate() keeps the tensor it passed in as the raw logits (`output_logits`) that rank the
        # candidates, so it must stay the model's own.
        scores = scores.masked_fill(blocked.to(scores.device), NEG_INF)
        if penalty.any():
            scores = scores - penalty.to(scores.device, scores.dtype)
        return scores


__all__ = ["ChineseFormLogitsProcessor", "NEG_INF"]
