"""The poetry tokenizer and the control-field format of training text.

One joint tokenizer serves Chinese and English (trained with `tokenizers`, saved as a `PreTrainedTokenizerFast`):

- every CJK character, CJK punctuation mark and newline is its own pre-token, and BPE never merges across
  pre-tokens, so **one CJK character is exactly one token** (form control counts tokens as characters);
- Latin-script text is split at spaces (Metaspace, `▁`) and BPE merges learn sub-words;
- special tokens: `<pad> <s> </s> <unk>`, the field markers `<title> <kw> <poem>`, and one token per form
  (`<五言绝句>`, ..., `<quatrain>`, `<sonnet>`, `<free>`).

A training example is `<s><form><title>TITLE<kw>K1 K2<poem>BODY</s>`; `format_poem` builds it, so the model
learns to condition on form, title and keywords.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from .prosody import ENGLISH_FORMS, FORMS, is_han

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
TITLE, KEYWORDS, POEM = "<title>", "<kw>", "<poem>"
FREE = "<free>"
FORM_TOKENS = [f"<{name}>" for name in FORMS] + [f"<{name}>" for name in ENGLISH_FORMS] + [FREE]
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, TITLE, KEYWORDS, POEM, *FORM_TOKENS]
FORM_MARKS = "，。\n"  # what ChineseFormLogitsProcessor writes between lines
ISOLATED = r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]|\n"


def form_token(form: str | None) -> str:
    if form is None:
        return FREE
    token = f"<{form}>"
    if token not in FORM_TOKENS:
        raise ValueError(f"form={form!r} is unknown; use one of {list(FORMS) + list(ENGLISH_FORMS)} or None.")
    return token


def format_prompt(form: str | None = None, title: str | None = None, keywords: Iterable[str] | None = None) -> str:
    """The control prefix, up to and including `<poem>`."""
    text = BOS + form_token(form)
    if title:
        text += TITLE + title
    if keywords:
        text += KEYWORDS + " ".join(keywords)
    return text + POEM


def sample_keywords(body: str, rng: random.Random, max_keywords: int = 2) -> list[str]:
    """Keywords for a training example that has none: characters (CJK) or words (English) taken from the poem, so
    the model learns that keywords appear in the poem."""
    han = [c for c in body if is_han(c)]
    if han:
        return rng.sample(han, k=min(len(han), rng.randint(1, max_keywords)))
    words = [w for w in body.replace("\n", " ").split() if w.isalpha() and len(w) > 3]
    return rng.sample(words, k=min(len(words), rng.randint(1, max_keywords))) if words else []


def format_poem(body: str, form: str | None = None, title: str | None = None, keywords=None,
                rng: random.Random | None = None, keyword_rate: float = 0.5) -> str:
    """The full training text; without `keywords`, some are sampled from the body with probability `keyword_rate`."""
    if keywords is None and rng is not None and rng.random() < keyword_rate:
        keywords = sample_keywords(body, rng)
    return format_prompt(form, title, keywords) + body.strip() + EOS


def train_poetry_tokenizer(texts: Iterable[str], vocab_size: int = 8192, min_frequency: int = 2):
    """Train the joint tokenizer on `texts` (formatted or raw) and wrap it as a `PreTrainedTokenizerFast`.

    Every CJK character seen is kept as a token whatever its frequency (the alphabet is not limited), so the
    vocabulary may exceed `vocab_size` when the corpus has more distinct characters.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(texts)
    # The form marks are always in the vocabulary, whatever the corpus: the form processor writes them.
    alphabet = sorted({c for t in texts for c in t if is_han(c) or c in "，。？！；：、“”‘’《》（）\n"} | set(FORM_MARKS))
    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(ISOLATED), behavior="isolated"),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never"),
    ])
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never")
    trainer = trainers.BpeTrainer(vocab_size=max(vocab_size, len(alphabet) + len(SPECIAL_TOKENS) + 64),
                                  min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet) + 200,
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        additional_special_tokens=[TITLE, KEYWORDS, POEM, *FORM_TOKENS], padding_side="left",
    )


def extend_poetry_tokenizer(tokenizer, texts: Iterable[str], new_tokens: int = 2048, min_frequency: int = 2):
    """A copy of `tokenizer` that also covers `texts`: BPE learns up to `new_tokens` sub-words on them (same
    pre-tokenizer, so CJK stays one character per token), and every token and merge it finds that `tokenizer` lacks
    is appended after the existing ids. Old ids keep their meaning, so a trained model only grows its embedding
    (`resize_token_embeddings`) to learn a new language, e.g. English for the Chinese poet."""
    import json

    from tokenizers import Tokenizer, trainers
    from transformers import PreTrainedTokenizerFast

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab, merges = state["model"]["vocab"], state["model"]["merges"]
    learner = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    texts = list(texts)
    alphabet = sorted({c for t in texts for c in t if not c.isspace()} - set(vocab))
    learner.train_from_iterator(texts, trainer=trainers.BpeTrainer(
        vocab_size=len(SPECIAL_TOKENS) + len(alphabet) + new_tokens, min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS, initial_alphabet=alphabet, show_progress=False))
    learned = json.loads(learner.to_str())["model"]
    for token in sorted(learned["vocab"], key=learned["vocab"].get):  # in the learner's order: characters first
        if token not in vocab:
            vocab[token] = len(vocab)
    known = {tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges}
    for merge in learned["merges"]:
        pair = tuple(merge) if isinstance(merge, list) else tuple(merge.split(" "))
        if pair not in known:
            merges.append(list(pair))
            known.add(pair)
    backend = Tokenizer.from_str(json.dumps(state))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        additional_special_tokens=[TITLE, KEYWORDS, POEM, *FORM_TOKENS], padding_side="left",
    )


__all__ = [
    "FORM_TOKENS",
    "extend_poetry_tokenizer",
    "SPECIAL_TOKENS",
    "format_poem",
    "format_prompt",
    "form_token",
    "sample_keywords",
    "train_poetry_tokenizer",
]
