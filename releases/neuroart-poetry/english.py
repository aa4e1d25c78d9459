"""English verse: quatrains and sonnets written line by line, each line chosen among sampled candidates so that the
rhyme scheme holds.

The poet learned English from the Deep-speare sonnet corpus (Lau et al., ACL 2018, arXiv:1807.03491) and
tiny-shakespeare, lowercased and tokenized the way Deep-speare ships them ("man 's", "fair , and"); it writes that
style, and `display` turns it back into ordinary text.

A rhyme is a constraint on a line's last word, which a left-to-right sampler only sees when the line is done, so the
writer works a line at a time (Deep-speare's own generator also resamples lines that fail its rhyme model):

1. sample `4 * num_candidates` continuations of the poem so far, each ending at its newline; a keyword not yet
   used that none of them contains opens `2 * num_candidates` more, the model writing the line on from it;
2. prefer those (three words or more, not a repeated line) whose last word rhymes with the line the scheme pairs it
   with (never the same word), or, for the first line of a rhyme, ends on a word that has rhymes in the vocabulary;
3. when none does, the model re-ends its most likely lines: the last word of each is replaced by the whole-word
   tokens of the vocabulary that rhyme, and the line the model finds most likely (its mean log-probability,
   newline included) wins. So the scheme holds wherever the vocabulary has a rhyme, and the model still picks
   the word;
4. among equals, prefer a line whose words are all real (CMUdict: a small sub-word model also invents words) and
   that does not open like an earlier line, then one that brings in a keyword not yet used, then the model's own
   ending, then the model's mean log-probability; a line that still cannot rhyme is taken as the most likely and
   recorded in `Poem.relaxed`.

While sampling, a word may not come a third time in a line or twice in a row, nor a possessive right after another;
and where the poet ships its lexicon (`english_words.txt`: the words of its English training poems), every word is
one of those or a keyword (`lexicon.py`), so it invents none. Without one, step 4 prefers lines of CMUdict's words.
English training poems have no titles, so a title steers through its words as keywords (when no keywords are given)
rather than as a title.

Rhyme is CMUdict's rhyming part (the last stressed vowel onward) through `pronouncing` when it is installed, as in
the checker (`prosody.check_english_poem`); without it, a spelling rule (last vowel group onward) stands in.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import weakref
from collections import defaultdict

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from .lexicon import WORD_RUN, LexiconLogitsProcessor
from .logits_process import NEG_INF
from .prosody import ENGLISH_FORMS, check_english_poem
from .tokenization import format_prompt

LATIN_TOKEN = re.compile(r"^[A-Za-z0-9'’,.;:!?\-▁ ]+$")
RHYME_SCHEMES = {"quatrain": "ABAB", "sonnet": "ABABCDCDEFEFGG"}
WORD = re.compile(r"[a-z][a-z']*")
ROUNDS = 3
# CTRL's repetition penalty (Keskar et al., 2019, arXiv:1909.05858) over the poem so far: without it a sonnet's later
# lines circle back to "my love my heart"; much stronger and the lines break into invented words.
REPETITION_PENALTY = 1.2


# ----------------------------------------------------------------------------------------------------------------
# Text style
# ----------------------------------------------------------------------------------------------------------------
def verse_style(text: str) -> str:
    """Lowercase and tokenize text the way the training verse is ("Man's fair, and" -> "man 's fair , and")."""
    text = re.sub(r"(\w)('s|'d|'ll|n't|'ve|'re|'m)\b", r"\1 \2", text.lower().replace("’", "'"))
    return " ".join(re.sub(r"([,;:!?.()\"—]|--)", r" \1 ", text).split())


def display(line: str) -> str:
    """One line of the poet's tokenized verse as ordinary text: clitics and punctuation joined, `i` and the first
    letter capitalised."""
    line = re.sub(r" ('s|'d|'ll|n't|'ve|'re|'m)\b", r"\1", line.strip())
    line = re.sub(r" ([,;:!?.)])", r"\1", line)
    line = re.sub(r"\bi\b", "I", line)
    return line[:1].upper() + line[1:]


def last_word(line: str) -> str | None:
    words = WORD.findall(line.lower().replace("’", "'"))
    return words[-1].strip("'") if words else None


# ----------------------------------------------------------------------------------------------------------------
# Rhyme
# ----------------------------------------------------------------------------------------------------------------
def spelling_rhyme_key(word: str) -> str:
    """The last vowel group onward, a silent final e kept with it ("time" -> "ime", "light" -> "ight")."""
    silent_e = len(word) > 3 and word.endswith("e") and word[-2] not in "aeiouy"
    base = word[:-1] if silent_e else word
    match = re.search(r"[aeiouy]+[^aeiouy]*$", base)
    return ((match.group() if match else base) + ("e" if silent_e else "")).replace("y", "i")  # rhyme, time


@functools.lru_cache(maxsize=65536)
def rhyme_key(word: str | None) -> str | None:
    """The rhyming part of `word`: CMUdict's when `pronouncing` is installed (None for words it does not know),
    else the spelling rule."""
    if not word:
        return None
    if importlib.util.find_spec("pronouncing") is None:
        return spelling_rhyme_key(word)
    from .prosody import english_rhyme_key

    return english_rhyme_key(word)


def rhyme_partners(scheme: str, num_lines: int) -> list[int | None]:
    """For each line, the earlier line it must rhyme with (the previous one with the same letter), or None."""
    scheme = (scheme * (num_lines // len(scheme) + 1))[:num_lines]
    last_of: dict[str, int] = {}
    partners = []
    for i, letter in enumerate(scheme):
        partners.append(last_of.get(letter))
        last_of[letter] = i
    return partners


# ----------------------------------------------------------------------------------------------------------------
# One line
# ----------------------------------------------------------------------------------------------------------------
def _latin_tables(tokenizer) -> tuple:
    """(the newline's id, (V,) bool: the Latin-script tokens, the possessive's id, the ids of whole-word tokens of
    three letters or more)."""
    vocab = tokenizer.get_vocab()
    special = set(tokenizer.all_special_ids)
    latin = torch.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=torch.bool)
    words = set()
    for token, index in vocab.items():
        latin[index] = index not in special and bool(LATIN_TOKEN.match(token))
        if token.startswith("▁") and len(token) > 3 and token[1:].isalpha():
            words.add(index)
    return tokenizer.convert_tokens_to_ids("\n"), latin, vocab.get("▁'s"), frozenset(words)


_TABLES = weakref.WeakKeyDictionary()
_TABLES_LOCK = threading.Lock()


class EnglishLineLogitsProcessor(LogitsProcessor):
    """One non-empty line of Latin-script tokens, ended by a newline within `max_line_tokens` tokens; no stutter: a
    whole word (three letters or more) at most twice in the line and never twice in a row ("life 's life 's
    life 's" is what a small model otherwise writes)."""

    def __init__(self, tokenizer, prompt_length: int, max_line_tokens: int = 20):
        self.prompt_length, self.max_line_tokens = prompt_length, max_line_tokens
        # The vocabulary's tables, read once per tokenizer: a sonnet builds this processor for every line it samples.
        with _TABLES_LOCK:
            if _TABLES.get(tokenizer, (None,))[0] != len(tokenizer):  # new, or tokens added since
                _TABLES[tokenizer] = (len(tokenizer), *_latin_tables(tokenizer))
            _, self.newline, self.latin, self.possessive, self.words = _TABLES[tokenizer]
        if self.newline in (None, tokenizer.unk_token_id) or int(self.latin.sum()) < 26:
            raise ValueError("This poet's vocabulary has no English (it was trained on classical Chinese only); use "
                             "the release neuroart/neuroart-poetry, or a model fine-tuned with English poems "
                             "(train_poetry.py --extend_vocabulary).")

    def __call__(self, input_ids, scores):
        since = input_ids.shape[1] - self.prompt_length  # tokens on the line so far (every row is still open)
        allowed = torch.zeros(scores.shape[1], dtype=torch.bool)
        width = min(len(self.latin), scores.shape[1])
        if since >= self.max_line_tokens:
            allowed[self.newline] = True
        else:
            allowed[:width] = self.latin[:width]
            allowed[self.newline] = since > 0  # no empty line
        blocked = (~allowed)[None].repeat(scores.shape[0], 1)  # (B, V)
        for row in range(scores.shape[0]):
            line = input_ids[row, self.prompt_length :].tolist()
            for token in set(line) & self.words:
                if line.count(token) >= 2 or line[-1] == token:
                    blocked[row, token] = True
            if self.possessive is not None and self.possessive in line[-3:]:
                blocked[row, self.possessive] = True  # one possessive at a time: not "world 's heart 's love 's"
        # Out of place: generate() keeps the tensor it passed in as the raw logits that rank the candidates.
        return scores.masked_fill(blocked.to(scores.device), NEG_INF)


def writes_english(tokenizer) -> bool:
    """Whether the tokenizer has the Latin-script tokens and the newline that English verse needs."""
    try:
        EnglishLineLogitsProcessor(tokenizer, 0)
    except ValueError:
        return False
    return True


def _sample_lines(model, tokenizer, context: str, count: int, sampling: dict, max_line_tokens: int,
                  lead: str = "", lexicon=None, extra_words=()):
    """`count` sampled next lines after `context` (each opening with `lead`, when given), with the mean
    log-probability under the model of the tokens it sampled; with a `lexicon`, in its words and `extra_words`."""
    from .generation import _mean_logprob

    lead_length = len(tokenizer(context + lead, add_special_tokens=False).input_ids) \
        - len(tokenizer(context, add_special_tokens=False).input_ids)
    input_ids = torch.tensor([tokenizer(context + lead, add_special_tokens=False).input_ids], device=model.device)
    prompt_length = input_ids.shape[1]
    budget = min(max_line_tokens + 1, model.config.max_position_embeddings - prompt_length)
    if budget < 2:
        return []
    processor = EnglishLineLogitsProcessor(tokenizer, prompt_length, budget - 1)
    processors = LogitsProcessorList([processor])
    words = None if lexicon is None else LexiconLogitsProcessor(tokenizer, lexicon, prompt_length, lead, extra_words)
    if words is not None:
        processors.append(words)
    output = model.generate(
        input_ids, attention_mask=torch.ones_like(input_ids), do_sample=True, num_return_sequences=count,
        max_new_tokens=budget, logits_processor=processors,
        eos_token_id=[processor.newline], pad_token_id=tokenizer.pad_token_id,
        return_dict_in_generate=True, output_logits=True, **sampling,
    )
    scores = _mean_logprob(model, output.sequences, prompt_length, output.logits)
    lines = [tokenizer.decode(row[prompt_length - lead_length :], skip_special_tokens=True).split("\n")[0].strip()
             for row in output.sequences]
    if words is not None:
        lines = [words.finished(line) for line in lines]
    return list(zip(lines, scores))


class _RhymeBook:
    """The tokenizer's whole-word tokens (`▁night`) grouped by rhyme: the words a line may be re-ended with."""

    def __init__(self, tokenizer):
        self.by_key: dict[str, dict[str, int]] = defaultdict(dict)
        for token, index in tokenizer.get_vocab().items():
            word = token[1:]
            if token.startswith("▁") and len(word) > 1 and word.isalpha() and word.isascii() and word.islower():
                key = rhyme_key(word)
                if key is not None:
                    self.by_key[key][word] = index

    def rhymes(self, word: str) -> dict[str, int]:
        return {w: i for w, i in self.by_key.get(rhyme_key(word), {}).items() if w != word}

    def rhymed(self) -> dict[str, int]:
        """Every word that has at least one rhyme in the vocabulary."""
        return {w: i for words in self.by_key.values() if len(words) > 1 for w, i in words.items()}


_BOOKS = weakref.WeakKeyDictionary()
_BOOKS_LOCK = threading.Lock()


def _rhyme_book(tokenizer) -> _RhymeBook:
    with _BOOKS_LOCK:
        if tokenizer not in _BOOKS:
            _BOOKS[tokenizer] = _RhymeBook(tokenizer)
        return _BOOKS[tokenizer]


def _strip_last_word(line: str) -> str:
    return re.sub(r"\s*[a-z][a-z']*[^a-z']*$", "", line)


def _reend_lines(model, tokenizer, context: str, prefixes: list[str], allowed: dict[str, int], per_prefix: int = 8):
    """Each prefix ended by the `per_prefix` words of `allowed` the model likes best there, as (mean log-probability
    of the whole line and its newline under the model, line), best first."""
    from .generation import _mean_logprob

    if not prefixes or not allowed:
        return []
    newline = tokenizer.convert_tokens_to_ids("\n")
    context_ids = tokenizer(context, add_special_tokens=False).input_ids
    starts = [tokenizer(context + prefix, add_special_tokens=False).input_ids for prefix in prefixes]
    words, ids = list(allowed), torch.tensor(list(allowed.values()))
    next_logprobs = _logprobs_after(model, starts)  # (P, V): the word after each prefix
    lines, sequences = [], []
    for prefix, start, row in zip(prefixes, starts, next_logprobs):
        top = row[ids].topk(min(per_prefix, len(words))).indices.tolist()
        for k in top:
            if len(start) + 2 <= model.config.max_position_embeddings:  # the word and the newline must still fit
                lines.append(f"{prefix} {words[k]}")
                sequences.append(start + [int(ids[k]), newline])
    if not sequences:
        return []
    scores = _mean_logprob(model, _right_padded(model, sequences), len(context_ids))
    return sorted(zip(scores, lines), reverse=True)


@functools.lru_cache(maxsize=65536)
def is_word(word: str) -> bool:
    """Whether CMUdict knows `word` (True for every word without `pronouncing`: no lexicon, no judgement)."""
    if importlib.util.find_spec("pronouncing") is None:
        return True
    import pronouncing

    return bool(pronouncing.phones_for_word(word.strip("'")))


def _rank(line: str, score: float, natural: bool, allowed, unused, lines, known=None) -> tuple:
    """Best first: usable and rhyming, every word a real one (a small sub-word model also invents words: in
    `known`, the lexicon's words and the keywords, where the poet has a lexicon; else CMUdict's), the model's own
    ending, a new keyword, then the mean log-probability."""
    word = last_word(line)
    usable = word is not None and len(WORD.findall(line)) >= 3 and line not in lines
    fits = allowed is None or not natural or word in allowed
    if known is not None:
        real = all(w in known for w in WORD_RUN.findall(line))
    else:
        real = all(is_word(w) for w in WORD.findall(line) if "'" not in w)  # clitics and o'er: the dictionary's gaps
    opening = WORD.findall(line)[:2]
    fresh = not any(WORD.findall(earlier)[:2] == opening for earlier in lines)  # not "And I was ..." every line
    return (usable and fits, real and fresh, any(k in line for k in unused), natural, score)


def _right_padded(model, sequences) -> torch.Tensor:
    """The sequences as one (B, T) batch, padded on the right with the pad token: a causal model's predictions for
    the real tokens never see the padding, and `generation._mean_logprob` skips it."""
    ids = torch.full((len(sequences), max(map(len, sequences))), model.config.pad_token_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
    return ids.to(model.device)


def _logprobs_after(model, sequences) -> torch.Tensor:
    """(B, V): the next-token log-probabilities after each sequence."""
    with torch.no_grad():
        logits = model(input_ids=_right_padded(model, sequences), use_cache=False).logits
    last = torch.tensor([len(seq) - 1 for seq in sequences], device=logits.device)
    return torch.log_softmax(logits[torch.arange(len(sequences), device=logits.device), last].float(), dim=-1).cpu()


# ----------------------------------------------------------------------------------------------------------------
# A poem
# ----------------------------------------------------------------------------------------------------------------
def write_english_poem(model, tokenizer, form: str, title: str | None = None, keywords=None, rhyme: bool = True,
                       rhyme_scheme: str | None = None, num_candidates: int = 4, temperature: float = 0.9,
                       top_k: int = 50, top_p: float = 0.95, seed: int = 0, max_line_tokens: int = 20,
                       line_index=None, lexicon=None):
    """A quatrain or sonnet (see the module docstring); returns a `generation.Poem` whose `text` is displayed
    English. Call it through `write_poem(form="quatrain"|"sonnet")`, which seeds the random stream. With a
    `lexicon` (`lexicon.Lexicon`), every word is one of its words or a keyword's."""
    from .generation import Poem

    num_lines = ENGLISH_FORMS[form]
    scheme = (rhyme_scheme or RHYME_SCHEMES[form]).upper()
    if not scheme.isalpha():
        raise ValueError(f"rhyme_scheme={rhyme_scheme!r} is not a scheme; use letters, e.g. 'ABAB' or 'ABBA'.")
    partners = rhyme_partners(scheme, num_lines) if rhyme else [None] * num_lines
    keywords = [verse_style(k) for k in keywords or [] if verse_style(k)]
    asked = list(keywords)  # what the caller asked for: reported in `relaxed` when it could not be placed
    # No title in the prompt: the English training poems have none, and an unseen field only confuses a small model;
    # the title's words steer as keywords when no keywords are given.
    if title and not keywords:
        keywords = [w for w in verse_style(title).split() if len(w) > 3][:4]
    prompt = format_prompt(form, None, keywords)
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "repetition_penalty": REPETITION_PENALTY}
    lines: list[str] = []
    relaxed: list[str] = []
    total = 0.0
    paired = {p for p in partners if p is not None}  # lines that a later line must rhyme with
    book = _rhyme_book(tokenizer) if rhyme else None
    known = None if lexicon is None else \
        lexicon.words | {w for k in keywords for w in WORD_RUN.findall(k)}  # what `_rank` counts as real
    for i, partner in enumerate(partners):
        partner_word = last_word(lines[partner]) if partner is not None else None
        if partner is not None:
            allowed = book.rhymes(partner_word)
        elif i in paired:
            allowed = book.rhymed()
        else:
            allowed = None  # free to end anywhere
        if allowed is not None:  # a rhyme word once per poem (day ... day reads as a stutter, not a rhyme)
            used = {last_word(line) for line in lines}
            allowed = {w: index for w, index in allowed.items() if w not in used and (known is None or w in known)}
        unused = [k for k in keywords if not any(k in line for line in lines)]
        context = prompt + "".join(f"{x}\n" for x in lines)

        best = None
        for _ in range(ROUNDS):
            sampled = [(line, score) for line, score in _sample_lines(model, tokenizer, context, 4 * num_candidates,
                                                                     sampling, max_line_tokens, lexicon=lexicon,
                                                                     extra_words=keywords) if line]
            if unused and not any(unused[0] in line for line, _ in sampled):
                # A keyword the model does not bring in by itself opens some candidates, the model writing the rest
                # of the line after it (its log-probability then covers the words it chose, not the keyword).
                sampled += [(line, score) for line, score in _sample_lines(
                    model, tokenizer, context, 2 * num_candidates, sampling, max_line_tokens, lead=unused[0],
                    lexicon=lexicon, extra_words=keywords) if line]
            for line, score in sampled:
                candidate = (_rank(line, score, True, allowed, unused, lines, known), line)
                best = candidate if best is None or candidate[0] > best[0] else best
            if best is not None and best[0][0]:
                break
            # No sampled line ends on a rhyme: the model re-ends its most likely ones with rhyming words.
            prefixes = []
            for line, _ in sorted(sampled, key=lambda item: -item[1]):
                prefix = _strip_last_word(line)
                if len(WORD.findall(prefix)) >= 2 and prefix not in prefixes:
                    prefixes.append(prefix)
            for score, line in _reend_lines(model, tokenizer, context, prefixes[:4], allowed or {}):
                candidate = (_rank(line, score, False, allowed, unused, lines, known), line)
                best = candidate if best is None or candidate[0] > best[0] else best
            if best is not None and best[0][0]:
                break
        if best is None:
            raise RuntimeError(f"The poet wrote no usable line {i + 1}; try another seed or a higher temperature.")
        if not best[0][0]:
            relaxed.append(f"line {i + 1}: no rhyme" + (f" with '{partner_word}'" if partner_word else ""))
        lines.append(best[1])
        total += best[0][-1]
    relaxed += [f"keyword '{k}' not placed" for k in asked if not any(k in line for line in lines)]
    text = "\n".join(display(line) for line in lines)
    check = check_english_poem(text, scheme if rhyme else None, num_lines)
    copied = line_index.copied_lines(text) if line_index is not None else []
    return Poem(text=text, form=form, check=check, score=total / num_lines, seed=seed, candidates=[],
                relaxed=relaxed, copied_lines=copied, model=str(getattr(model, "name_or_path", "") or ""))


__all__ = ["EnglishLineLogitsProcessor", "RHYME_SCHEMES", "display", "rhyme_key", "spelling_rhyme_key",
           "verse_style", "write_english_poem", "writes_english"]
