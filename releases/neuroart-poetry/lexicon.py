"""The words the English poet may write: the words of its training poems (`Lexicon`), held while sampling
(`LexiconLogitsProcessor`).

A sub-word model spells words it never read ("couseskerveers", "wilt'st'st"): the release put one into three of
every four sonnets. Masking to a lexicon is the classic remedy of constrained decoding (a trie over the words, as
in Hokamp & Liu, 2017, "Lexically Constrained Decoding", arXiv:1704.07138, and the prefix-constrained decoding of
De Cao et al., 2021, arXiv:2010.00904): a token may only extend the word being written to the start of a known word,
and a word may only end (a space, a mark, the newline) where it is a whole known word.

The lexicon ships beside the weights as `english_words.txt` (one word per line), written by `train_poetry.py` from the
English training poems, so the poet writes the words it learned from and no others. A word is a run of letters and
apostrophes in the training style (`english.verse_style`: "man 's", "o'er").

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: the standard library, torch,
transformers and same-folder modules only.
"""

from __future__ import annotations

import os
import re
import threading
import weakref

import torch
from transformers import LogitsProcessor

from .logits_process import NEG_INF

LEXICON_FILE = "english_words.txt"
WORD_RUN = re.compile(r"[a-z']+")


class Lexicon:
    """A set of words and every start of one (`prefixes`), to check a word as it is being spelled."""

    def __init__(self, words=()):
        self.words = frozenset(w for w in (str(w).lower() for w in words) if WORD_RUN.fullmatch(w))
        self.prefixes = frozenset(w[:i] for w in self.words for i in range(1, len(w) + 1))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.words

    @classmethod
    def from_texts(cls, texts) -> "Lexicon":
        """Every word of `texts` (lowercased; in the training style, so "man 's" gives "man" and "'s")."""
        return cls(w for text in texts for w in WORD_RUN.findall(text.lower()))

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sorted(self.words)) + "\n")

    @classmethod
    def load(cls, path) -> "Lexicon":
        with open(path, encoding="utf-8") as handle:
            return cls(handle.read().split())


_LOADED: dict = {}
_LOADED_LOCK = threading.Lock()


def lexicon_of(model) -> Lexicon | None:
    """The lexicon shipped beside `model`'s weights (a local folder or a Hub repo), or None where it ships none.
    Read once per file version."""
    from transformers.utils import cached_file

    source = str(getattr(model, "name_or_path", "") or "")
    if not source:
        return None
    try:
        path = cached_file(source, LEXICON_FILE, _raise_exceptions_for_missing_entries=False,
                           _raise_exceptions_for_connection_errors=False)
    except (OSError, ValueError):  # not a folder, nor a repo this machine can reach
        return None
    if path is None:
        return None
    key = (path, os.path.getmtime(path))
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = Lexicon.load(path)
        return _LOADED[key]


class _Spelling:
    """The tokenizer's tokens as text, sorted for the check: tokens inside a word (letters and apostrophes only:
    "ing", or "thy" at a line's start) extend the word being written; the others end it (a space, a mark, the
    newline), may finish a word before that ("s ,": its `head`) and start one after it (" lov": its tail). The
    masks are kept per unfinished word and set of extra words, across calls."""

    def __init__(self, tokenizer, lexicon: Lexicon):
        self.lexicon = lexicon
        size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
        self.texts = [""] * size
        for token, index in tokenizer.get_vocab().items():
            self.texts[index] = token.replace("▁", " ").lower()
        self.inside = [i for i, s in enumerate(self.texts) if s and WORD_RUN.fullmatch(s)]
        self.runs = {i: re.split(r"[^a-z']+", s) for i, s in enumerate(self.texts)  # head, whole words..., tail
                     if s and not WORD_RUN.fullmatch(s)}
        self.headed = [i for i, runs in self.runs.items() if runs[0]]  # none in the release's vocabulary
        self.crossing_ok: dict[frozenset, torch.Tensor] = {}  # extra words -> what the tokens bring after the word
        self.masks: dict[tuple, torch.Tensor] = {}
        self.lock = threading.Lock()

    def _crossing_ok(self, extra: frozenset, extra_prefixes: frozenset) -> torch.Tensor:
        """(V,) bool: the word-ending tokens whose own words are whole known words and whose tail starts one."""
        if extra not in self.crossing_ok:
            words, prefixes = self.lexicon.words, self.lexicon.prefixes
            ok = torch.zeros(len(self.texts), dtype=torch.bool)
            for i, runs in self.runs.items():
                ok[i] = all(w in words or w in extra for w in runs[1:-1] if w) \
                    and (not runs[-1] or runs[-1] in prefixes or runs[-1] in extra_prefixes)
            if len(self.crossing_ok) > 64:
                self.crossing_ok.clear()
            self.crossing_ok[extra] = ok
        return self.crossing_ok[extra]

    def mask(self, partial: str, extra: frozenset, extra_prefixes: frozenset) -> torch.Tensor:
        """(V,) bool: the tokens that may follow a line whose last, unfinished word is `partial` ("" after a space
        or a mark)."""
        key = (partial, extra)
        with self.lock:
            if key in self.masks:
                return self.masks[key]
            crossing_ok = self._crossing_ok(extra, extra_prefixes)
        words, prefixes = self.lexicon.words, self.lexicon.prefixes
        is_word = lambda w: w in words or w in extra  # noqa: E731
        if not partial or is_word(partial):  # the word may end here
            allowed = crossing_ok.clone()
        else:
            allowed = torch.zeros(len(self.texts), dtype=torch.bool)
        for i in self.headed:  # a token that finishes the word before its space or mark
            allowed[i] = bool(crossing_ok[i]) and is_word(partial + self.runs[i][0])
        for i in self.inside:
            word = partial + self.texts[i]
            allowed[i] = word in prefixes or word in extra_prefixes
        with self.lock:
            if len(self.masks) > 4096:
                self.masks.clear()
            self.masks[key] = allowed
        return allowed


_SPELLINGS = weakref.WeakKeyDictionary()  # tokenizer -> {id(lexicon): (lexicon, _Spelling)}
_SPELLINGS_LOCK = threading.Lock()


def _spelling(tokenizer, lexicon: Lexicon) -> _Spelling:
    with _SPELLINGS_LOCK:
        per_lexicon = _SPELLINGS.setdefault(tokenizer, {})
        if id(lexicon) not in per_lexicon or per_lexicon[id(lexicon)][0] is not lexicon:
            per_lexicon[id(lexicon)] = (lexicon, _Spelling(tokenizer, lexicon))
        return per_lexicon[id(lexicon)][1]


class LexiconLogitsProcessor(LogitsProcessor):
    """Only words of the lexicon (and `extra_words`, e.g. the caller's keywords): a token may extend the word being
    written only to the start of a known word, and may end it (with a space, a mark or the newline) only where it
    is a whole one. Each row's line is read from `prompt_length` on, after `lead` (text already on the line).

    Where the other masks leave nothing this one allows (a line cut at its token limit mid-word), the row keeps the
    other masks alone for that step, so sampling always has a token to draw; `finished` then drops the unfinished
    word from the line."""

    def __init__(self, tokenizer, lexicon: Lexicon, prompt_length: int, lead: str = "", extra_words=()):
        self.spelling = _spelling(tokenizer, lexicon)
        self.prompt_length, self.lead = prompt_length, lead.lower()
        self.extra = frozenset(w for text in extra_words for w in WORD_RUN.findall(text.lower()))
        self.extra_prefixes = frozenset(w[:i] for w in self.extra for i in range(1, len(w) + 1))

    def finished(self, line: str) -> str:
        """`line` without its last word where the line's token limit cut that word off unfinished."""
        found = re.search(r"[a-z']+$", line.lower())
        if found is None or found.group(0) in self.spelling.lexicon.words or found.group(0) in self.extra:
            return line
        return line[: found.start()].rstrip()

    def __call__(self, input_ids, scores):
        texts = self.spelling.texts
        width = min(len(texts), scores.shape[1])
        blocked = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)  # (B, V)
        for row in range(scores.shape[0]):
            line = self.lead + "".join(texts[t] for t in input_ids[row, self.prompt_length :].tolist()
                                       if t < len(texts))
            found = re.search(r"[a-z']+$", line)
            allowed = self.spelling.mask(found.group(0) if found else "", self.extra, self.extra_prefixes)
            allowed = allowed[:width].to(scores.device)
            if torch.isfinite(scores[row, :width].masked_fill(~allowed, NEG_INF)).any():
                blocked[row, :width], blocked[row, width:] = ~allowed, True
        # Out of place, as `english.EnglishLineLogitsProcessor`: generate() ranks candidates by the tensor it passed.
        return scores.masked_fill(blocked, NEG_INF)


__all__ = ["LEXICON_FILE", "Lexicon", "LexiconLogitsProcessor", "lexicon_of"]
