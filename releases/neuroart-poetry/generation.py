"""Poems with guaranteed form: constrained decoding for classical Chinese and English verse.

`write_poem(model, tokenizer, form="七言绝句", acrostic="春夏秋冬", rhyme=True, tone=False, ...)`:

- `ChineseFormLogitsProcessor` masks the logits at every step so that only legal tokens remain: CJK characters
  inside a line (exactly 5 or 7), then `，` on odd lines and `。` on even lines, a newline, and `</s>` right after the
  last line. The form is therefore exact whatever the model's weights (an untrained model writes a valid form).
- `acrostic` forces the first character of each line (藏头诗).
- `rhyme`: the last character of every even line must share a 平声 group of the 平水韵 with the first even line's
  ending; `tone`: 平仄 rules (二四六分明, 对, 粘, odd lines after the first end on 仄) restrict the characters at
  positions 2/4/6 and the line ends. Polyphonic or unknown characters are wildcards. If a vocabulary cannot satisfy
  a rule at some step, that rule is relaxed for that step and the relaxation is recorded.
- No stutter (`no_stutter=True`, the default): a character may not come a third time in a row or a third time in
  one line, and a line may not repeat an earlier one; doubled characters (叠字 such as 青青) stay allowed. This is
  a mask like the form, so it holds whatever the weights.
- `keywords` (characters or words) are planned Jiuge-style: each gets a line (a seeded plan per candidate, distinct
  lines while they last) and may not take the acrostic's first character or a rhymed line end; the model places it
  freely until the line has just enough room left, then it is forced in. No keyword character comes more than
  twice (more only if the keywords ask for it more often): the model would otherwise echo it. A keyword that cannot be placed (not in
  the vocabulary, longer than a line, no room) or that breaks a tone rule where it is forced is listed in
  `Poem.relaxed`, never dropped silently.
- `num_candidates` poems are sampled and reranked: passing checks first, then the model's own fluency (mean token
  log-probability). Sampling runs on a private random stream seeded by `seed` (`seeded_rng`).
- English (`form="quatrain"|"sonnet"`): `EnglishLinesLogitsProcessor` fixes the number of lines; rhyme follows
  `rhyme_scheme` by reranking on CMUdict rhymes.

Constrained decoding after Jiuge / CharPoet's form control (Zhipeng Guo et al., 2019, "Jiuge: A Human-Machine
Collaborative Chinese Classical Poetry Generation System"; Yu et al., 2024, "CharPoet", arXiv:2401.03512).
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import threading
import warnings
import weakref
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .prosody import ENGLISH_FORMS, FORMS, check_english_poem, check_poem, is_han, rhyme_groups, tone_of
from .tokenization import format_prompt

NEG_INF = float("-inf")
LATIN_TOKEN = re.compile(r"^[A-Za-z0-9'’,.;:!?\-▁ ]+$")


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
                 num_rows: int = 1, seed: int = 0):
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
        self.keywords = self._usable_keywords(keywords or [])
        # Each keyword character at most twice in the poem (or as often as the keywords ask for it): a forced
        # keyword sets the context, and the model would otherwise echo it (明月 ... 明月 ... 明月).
        asked = "".join(self.keywords)
        self.keyword_limit = {c: max(2, asked.count(c)) for c in set(asked)}
        rng = random.Random(seed)
        self.plans = [self._plan(rng) for _ in range(num_rows)]  # one keyword placement per candidate row

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

    def _stutter_mask(self, state: _LineState) -> torch.Tensor:
        """Tokens that would stutter: a character a third time in a row or in the line, or a repeated line."""
        v = self.vocab
        banned = torch.zeros(v.size, dtype=torch.bool)
        current = state.current
        for char in set(current):
            if current.count(char) >= 2 and char in v.index:  # doubled (青青) stays allowed, a third one not
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
            mask &= ~self._stutter_mask(state)
        if self.keyword_limit:
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

    def allowed(self, tokens: list[int], row: int = 0) -> torch.Tensor:
        v = self.vocab
        state = self._state(tokens)
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

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        blocked = torch.ones(scores.shape, dtype=torch.bool)  # (B, V)
        for row in range(input_ids.shape[0]):
            mask = self.allowed(input_ids[row, self.prompt_length :].tolist(), row)
            width = min(mask.shape[0], scores.shape[1])
            blocked[row, :width] = ~mask[:width]
        # Out of place: generate() keeps the tensor it passed in as the raw logits (`output_logits`) that rank the
        # candidates, so it must stay the model's own.
        return scores.masked_fill(blocked.to(scores.device), NEG_INF)


class EnglishLinesLogitsProcessor(LogitsProcessor):
    """Exactly `num_lines` non-empty lines, at most `max_line_tokens` tokens each, then `</s>`; no special tokens."""

    def __init__(self, tokenizer, num_lines: int, prompt_length: int, max_line_tokens: int = 24):
        self.num_lines, self.prompt_length, self.max_line_tokens = num_lines, prompt_length, max_line_tokens
        self.newline = tokenizer.convert_tokens_to_ids("\n")
        if self.newline in (None, tokenizer.unk_token_id):
            raise ValueError("The tokenizer has no newline token; train it with train_poetry_tokenizer.")
        self.eos = tokenizer.eos_token_id
        vocab = tokenizer.get_vocab()
        self.latin = torch.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=torch.bool)
        special = set(tokenizer.all_special_ids)
        for token, index in vocab.items():
            self.latin[index] = index not in special and bool(LATIN_TOKEN.match(token))
        if int(self.latin.sum()) < 26:
            raise ValueError("This poet's vocabulary has no English (it was trained on classical Chinese only); "
                             "use a classical form such as 七言绝句, or a model trained with English poems.")

    def __call__(self, input_ids, scores):
        scores = scores.clone()  # generate() keeps the tensor passed in as the raw logits that rank the candidates
        for row in range(input_ids.shape[0]):
            tokens = input_ids[row, self.prompt_length :].tolist()
            if self.eos in tokens:
                scores[row] = NEG_INF
                scores[row, self.eos] = 0
                continue
            lines = tokens.count(self.newline)
            last_newline = len(tokens) - 1 - tokens[::-1].index(self.newline) if lines else -1
            since = len(tokens) - last_newline - 1  # tokens on the current line
            if lines >= self.num_lines:
                scores[row] = NEG_INF
                scores[row, self.eos] = 0
                continue
            banned = torch.ones(scores.shape[1], dtype=torch.bool, device=scores.device)
            width = min(len(self.latin), scores.shape[1])
            banned[:width] = ~self.latin[:width].to(scores.device)
            banned[self.newline] = False
            if since == 0:
                banned[self.newline] = True  # no empty lines
            if since >= self.max_line_tokens:
                banned[:] = True
                banned[self.newline] = False
            scores[row] = scores[row].masked_fill(banned, NEG_INF)
        return scores


@dataclass
class Poem:
    """A written poem, its checks, and the other candidates (best first)."""

    text: str
    form: str | None
    check: dict
    score: float
    seed: int
    candidates: list[tuple[str, dict, float]] = field(default_factory=list)
    relaxed: list[str] = field(default_factory=list)
    copied_lines: list[str] = field(default_factory=list)
    model: str = ""  # the model's name or path, for the provenance footer

    def __str__(self) -> str:
        return self.text

    def save(self, folder, settings: dict | None = None) -> list[str]:
        """Write `poem_<seed>.txt` into `folder`: the poem, then a provenance footer (AI-generated, the model, the
        seed, the form, and `settings` if given). Returns the paths written."""
        import json
        import os

        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"poem_{self.seed}.txt")
        extra = f", settings {json.dumps(settings, ensure_ascii=False, sort_keys=True)}" if settings else ""
        footer = f"\n\n-- AI-generated by NeuroArt ({self.model or 'neuroart-poetry'}, seed {self.seed}, " \
                 f"form {self.form}{extra})\n"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.text + footer)
        return [path]


# One lock for torch's global random stream, shared by every model in the process: music and poetry (and every
# copy of this remote code, loaded under other module names) seed that stream per call, so two of them at once
# must take turns, or a poem and a piece made together would draw from each other's stream. It hangs on
# torch.random, the one module that every copy sees.
_RNG_LOCK = torch.random.__dict__.setdefault("_neuroart_global_stream_lock", threading.RLock())


@contextlib.contextmanager
def seeded_rng(seed: int, device=None):
    """Run a block on a private random stream seeded with `seed`: the global generator state is saved, seeded,
    and restored afterwards, under a lock, so concurrent calls never draw from each other's stream."""
    devices = [device] if device is not None and torch.device(device).type == "cuda" else []
    with _RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _mean_logprob(model, sequences: torch.Tensor, prompt_length: int, step_logits=None) -> list[float]:
    """Each row's mean log-probability of its sampled tokens under the model's own distribution (no processors, no
    temperature). `step_logits` (generate()'s `output_logits`, one (B, V) tensor per new token) spares a second
    forward pass over the candidates; without it the sequences are scored again."""
    if step_logits is not None:
        logits = torch.stack(step_logits, dim=1).float()  # (B, new tokens, V)
    else:
        with torch.no_grad():
            logits = model(input_ids=sequences, use_cache=False).logits[:, prompt_length - 1 : -1].float()
    targets = sequences[:, prompt_length : prompt_length + logits.shape[1]]
    picked = logits.gather(-1, targets[..., None])[..., 0] - torch.logsumexp(logits, dim=-1)  # log-softmax, picked
    valid = torch.isfinite(picked) & (targets != model.config.pad_token_id)
    totals = torch.where(valid, picked, torch.zeros_like(picked)).sum(1)
    return (totals / valid.sum(1).clamp_min(1)).tolist()


def write_poem(model, tokenizer, form: str | None = "七言绝句", title: str | None = None, keywords=None,
               acrostic: str | None = None, rhyme: bool = True, tone: bool = False, num_candidates: int = 4,
               temperature: float = 0.9, top_k: int = 50, top_p: float = 0.95, seed: int | None = None,
               rhyme_scheme: str | None = None, line_index=None, max_new_tokens: int = 256,
               no_stutter: bool = True) -> Poem:
    """Write one poem in `form`; see the module docstring. Returns a `Poem` (use `.text`).

    Classical forms: every keyword (a character or a word) is planned into a line and forced in before that line
    ends; one that cannot be placed is listed in `Poem.relaxed`. `no_stutter` bans a character a third time in a
    row or in one line and a repeated line (doubled characters such as 青青 stay allowed). The randomness comes from
    `seed` alone (a private generator state, never the global stream's), so the same call gives the same poem
    whatever else the process is doing.
    """
    if isinstance(keywords, str):
        keywords = keywords.replace("，", " ").replace(",", " ").split()
    if not 1 <= num_candidates <= 64:
        raise ValueError(f"num_candidates={num_candidates} is out of range; use 1 to 64.")
    if not 0 < temperature <= 5:
        raise ValueError(f"temperature={temperature} is out of range; use (0, 5].")
    seed = random.randrange(2**31) if seed is None else int(seed)
    prompt = format_prompt(form, title, keywords)
    input_ids = torch.tensor([tokenizer(prompt, add_special_tokens=False).input_ids], device=model.device)
    prompt_length = input_ids.shape[1]
    if form in FORMS:
        processor = ChineseFormLogitsProcessor(tokenizer, form, prompt_length, acrostic, rhyme, tone,
                                               keywords=keywords, no_stutter=no_stutter, num_rows=num_candidates,
                                               seed=seed)
        lines, chars = FORMS[form]
        max_new_tokens = lines * (chars + 2) + 1
    elif form in ENGLISH_FORMS:
        if acrostic:
            raise ValueError("acrostic is for classical Chinese forms.")
        processor = EnglishLinesLogitsProcessor(tokenizer, ENGLISH_FORMS[form], prompt_length)
    elif form is None:
        processor = None
    else:
        raise ValueError(f"form={form!r} is unknown; use one of {list(FORMS) + list(ENGLISH_FORMS)} or None.")
    limit = model.config.max_position_embeddings - prompt_length
    max_new_tokens = min(max_new_tokens, limit)
    with seeded_rng(seed, model.device):
        output = model.generate(
            input_ids, attention_mask=torch.ones_like(input_ids), do_sample=True, temperature=temperature,
            top_k=top_k, top_p=top_p, num_return_sequences=num_candidates, max_new_tokens=max_new_tokens,
            logits_processor=LogitsProcessorList([processor]) if processor else None,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            return_dict_in_generate=True, output_logits=True,  # the raw logits rank the candidates below
        )
    sequences = output.sequences
    scores = _mean_logprob(model, sequences, prompt_length, output.logits)
    ranked = []
    for row, score in zip(sequences, scores):
        text = tokenizer.decode(row[prompt_length:], skip_special_tokens=True).strip()
        if form in FORMS:
            verdict = check_poem(text, form).as_dict()
            passes = [verdict["form_ok"], verdict["rhyme_ok"] or not rhyme, verdict["tone_ok"] or not tone]
        elif form in ENGLISH_FORMS:
            verdict = check_english_poem(text, rhyme_scheme, ENGLISH_FORMS[form])
            passes = [verdict["lines_ok"], verdict["rhyme_ok"]]
            if rhyme_scheme:
                passes.append(verdict["rhyme_pairs_ok"] / max(1, verdict["rhyme_pairs"]))
        else:
            verdict, passes = {}, []
        ranked.append((tuple(passes), score if math.isfinite(score) else -1e9, text, verdict))
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    best = ranked[0]
    copied = line_index.copied_lines(best[2]) if line_index is not None else []
    return Poem(text=best[2], form=form, check=best[3], score=best[1], seed=seed,
                candidates=[(t, v, s) for _, s, t, v in ranked], relaxed=sorted(set(processor.relaxed))
                if isinstance(processor, ChineseFormLogitsProcessor) else [], copied_lines=copied,
                model=str(getattr(model, "name_or_path", "") or ""))


class LineIndex:
    """Lines of a training corpus (punctuation removed), to flag generated lines copied verbatim."""

    def __init__(self, lines=()):
        self.lines = {self.normalise(line) for line in lines}
        self.lines.discard("")

    @staticmethod
    def normalise(line: str) -> str:
        return "".join(c for c in line if c.isalnum())

    @classmethod
    def from_poems(cls, poems) -> "LineIndex":
        from .prosody import split_lines

        return cls(line for poem in poems for line in split_lines(poem))

    def copied_lines(self, poem: str) -> list[str]:
        from .prosody import split_lines

        return [line for line in split_lines(poem) if self.normalise(line) in self.lines]

    def copy_rate(self, poems) -> float:
        from .prosody import split_lines

        total = copied = 0
        for poem in poems:
            for line in split_lines(poem):
                total += 1
                copied += self.normalise(line) in self.lines
        return copied / max(1, total)

    def save(self, path) -> None:
        import gzip

        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write("\n".join(sorted(self.lines)))

    @classmethod
    def load(cls, path) -> "LineIndex":
        import gzip

        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls(handle.read().split("\n"))


# --------------------------------------------------------------------------------------------------------------
# Inside the poet: what each line attended to
# --------------------------------------------------------------------------------------------------------------
ATTENTION_CAPTION = (
    "Each row is one line of the poem; each cell one character the poet could see before writing that line (the "
    "title, the keywords and the earlier lines; the control tokens show as 始 start, 体 form, 题 title, 词 keywords "
    "and 诗 poem). The darker a cell, the more of that "
    "line's attention went to it: the attention weights of all layers and heads, averaged over the line's "
    "characters, counting only what came before the line and scaled so each row's darkest cell is full colour.")
_CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
              "/System/Library/Fonts/PingFang.ttc", "C:/Windows/Fonts/msyh.ttc")


def _cjk_font(size: int):
    """A TrueType font that draws CJK characters, at `size` px: a known path, else fontconfig's match for Chinese;
    None when the machine has none."""
    import shutil
    import subprocess

    from PIL import ImageFont

    candidates = list(_CJK_FONTS)
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh"], capture_output=True, text=True,
                                   timeout=5).stdout.strip()
            candidates.append(found)
        except (OSError, subprocess.SubprocessError):
            pass
    for path in candidates:
        try:
            font = ImageFont.truetype(path, size)
        except OSError:
            continue
        if font.getmask("诗").getbbox() is not None and font.getbbox("诗") != font.getbbox("\uffff"):
            return font
    return None


def line_attention(model, tokenizer, poem: str, form: str | None = None, title: str | None = None, keywords=None):
    """(labels of the context tokens, one row per line: the share of the line's attention on each earlier token).

    Rule: the attention weights of every layer and head are averaged; for line i, over the queries of its
    characters; only keys before the line's first character count, and each row is renormalised to sum to 1."""
    if isinstance(keywords, str):
        keywords = keywords.replace("，", " ").replace(",", " ").split()
    prompt = format_prompt(form, title, keywords)
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    body_ids = tokenizer(poem.strip(), add_special_tokens=False).input_ids
    ids = torch.tensor([prompt_ids + body_ids], device=model.device)[:, : model.config.max_position_embeddings]
    with torch.no_grad():
        attentions = model(ids, output_attentions=True, use_cache=False).attentions
    weights = torch.stack([a[0].float().mean(0) for a in attentions]).mean(0)  # layers x (H, T, T) -> (T, T)
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    names = {"<s>": "始", "<title>": "题", "<kw>": "词", "<poem>": "诗", "▁": "·", " ": "·"}
    labels = [names.get(t, "体" if t.startswith("<") and t.endswith(">") and len(t) > 2 else t) for t in tokens]
    newline = tokenizer.convert_tokens_to_ids("\n")
    rows, line_start = [], len(prompt_ids)
    for index in range(len(prompt_ids), ids.shape[1] + 1):
        if index == ids.shape[1] or ids[0, index].item() == newline:
            if index > line_start:
                row = weights[line_start:index, :line_start].mean(0)  # (context,)
                rows.append((row / row.sum().clamp_min(1e-12)).tolist())
            line_start = index + 1
    width = max((len(r) for r in rows), default=0)
    return labels[:width], [r + [0.0] * (width - len(r)) for r in rows]


def attention_view(model, tokenizer, poem: str, form: str | None = None, title: str | None = None, keywords=None,
                   cell: int = 22):
    """A heatmap image (PIL) of `line_attention`: rows = the poem's lines, columns = the characters before them.
    Needs Pillow; a CJK font is used where one is installed (otherwise characters may show as boxes)."""
    from PIL import Image, ImageDraw, ImageFont

    labels, rows = line_attention(model, tokenizer, poem, form, title, keywords)
    font = _cjk_font(int(cell * 0.7))
    if font is None:  # a default font draws boxes for CJK: number the columns instead, and say why
        warnings.warn("No CJK font found (e.g. apt-get install fonts-wqy-microhei): the attention view labels its "
                      "columns with numbers instead of characters.", stacklevel=2)
        labels = [label if label.isascii() else str(index % 100) for index, label in enumerate(labels)]
    font = font or ImageFont.load_default()
    margin = 3 * cell
    image = Image.new("RGB", (margin + cell * max(1, len(labels)), cell * (len(rows) + 1)), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for column, label in enumerate(labels):
        draw.text((margin + column * cell + cell // 2, cell // 2), "" if label == "\n" else label, fill=(60, 60, 60),
                  font=font, anchor="mm")
    for index, row in enumerate(rows):
        top = (index + 1) * cell
        draw.text((cell // 4, top + cell // 2), f"L{index + 1}", fill=(60, 60, 60), font=font, anchor="lm")
        peak = max(row) or 1.0
        for column, value in enumerate(row[: len(labels)]):
            shade = value / peak
            colour = (255, int(255 - 200 * shade), int(255 - 220 * shade))
            draw.rectangle([margin + column * cell, top, margin + (column + 1) * cell - 1, top + cell - 1], fill=colour)
    return image


__all__ = ["ATTENTION_CAPTION", "ChineseFormLogitsProcessor", "EnglishLinesLogitsProcessor", "LineIndex", "Poem",
           "attention_view", "line_attention", "write_poem"]
