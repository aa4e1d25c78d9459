"""The poetry part of `release_quality.py`: the release poet on the held-out Tang split of its recipe.

- nats/char on the held-out Tang poems (body given the form prompt, newlines and the end of the poem counted, as in
  `poetry_quality.py`), against a character bigram interpolated with the unigram fit on the same training poems;
  and on the held-out poems none of whose lines is found verbatim in a training poem (`_unseen_lines`).
- 200 poems per form with the constraints and `tone=True` (50 calls x 4 candidates, every candidate counted):
  form, rhyme and tone accuracy, stutter (a character 3x in a row; 3x within one line; 3x in the poem; a repeated
  line; lines with a character twice apart; characters used in an earlier line), lines copied from training,
  distinct-2; the same rates for the poem `write_poem` returns (best of 4), and for the same model with
  `no_stutter=False` (what the rule removes).
- Keywords: 2 characters drawn from a held-out poem (or a 2-character word of it), 50 calls per form; the rate at
  which every requested keyword appears; and the studio's theme 春江花月.
- Candidates: mean token log-probability (under the model) of the returned poem and seconds per poem for 1, 4 and
  8 candidates.
- Human rates of the same stutter measures and of the checks on the Tang file, for comparison.
- English (when the poet's vocabulary has it): nats/char on the held-out sonnets (`val_en.jsonl`, the sonnet
  corpus's own `valid` items) against the same bigram fit on the English training poems; quatrains and sonnets
  from the release (one call each per seed): rhyme scheme kept (CMUdict, `check_english_poem`), lines whose rhyme
  was relaxed, lines copied from the English training poems, and the damage check: the model's own mean
  log-probability of the lines it chose against the same seeds with `rhyme=False`. Invented words: the share of
  words that the English training poems never use, in the poems written with the lexicon shipped beside the weights
  (`english_words.txt`, on by default) and with `lexicon=None` on the same seeds, beside the held-out sonnets' own
  share (real words that training lacks); what the lexicon costs is read from the model's mean log-probability,
  word distinct-2, the rhyme scheme and the seconds per poem of the two.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from benchmarks.quality.poetry_quality import bigram_nats_per_char, distinct_2, model_nats_per_char


def stutter(text: str) -> dict:
    from neuroart.poetry.prosody import split_lines

    lines = ["".join(c for c in line if c.isalnum()) for line in split_lines(text)]
    return {
        "triple_in_row": any(line[i] == line[i + 1] == line[i + 2] for line in lines for i in range(len(line) - 2)),
        "triple_in_line": any(line.count(c) >= 3 for line in lines for c in set(line)),
        "triple_in_poem": any("".join(lines).count(c) >= 3 for c in set("".join(lines))),
        "repeated_line": len(set(lines)) < len(lines),
        "doubled_lines": sum(any(line[i] == line[i + 1] for i in range(len(line) - 1)) for line in lines),
        "apart_lines": sum(any(line[i] == line[j] for i in range(len(line)) for j in range(i + 2, len(line)))
                           for line in lines),  # a character twice in a line, not side by side (春去春来)
        "lines": len(lines),
        "reused": sum(c in set("".join(lines[:k])) and not (i and line[i - 1] == c)
                      for k, line in enumerate(lines) for i, c in enumerate(line)),  # 客情 ... 客路 (叠字 apart)
        "chars": sum(len(line) for line in lines),
    }


def rates(texts, form=None) -> dict:
    from neuroart.poetry import check_poem

    marks = [stutter(t) for t in texts]
    n = max(1, len(texts))
    out = {
        "poems": len(texts),
        "triple_in_row": round(sum(m["triple_in_row"] for m in marks) / n, 4),
        "triple_in_line": round(sum(m["triple_in_line"] for m in marks) / n, 4),
        "triple_in_poem": round(sum(m["triple_in_poem"] for m in marks) / n, 4),
        "repeated_line": round(sum(m["repeated_line"] for m in marks) / n, 4),
        "doubled_char_lines": round(sum(m["doubled_lines"] for m in marks) / max(1, sum(m["lines"] for m in marks)), 4),
        "repeated_apart_lines": round(sum(m["apart_lines"] for m in marks) / max(1, sum(m["lines"] for m in marks)),
                                      4),
        "reused_chars": round(sum(m["reused"] for m in marks) / max(1, sum(m["chars"] for m in marks)), 4),
    }
    checks = [check_poem(t, form) for t in texts]
    out.update(form=round(sum(c.form_ok for c in checks) / n, 4), rhyme=round(sum(c.rhyme_ok for c in checks) / n, 4),
               tone=round(sum(c.tone_ok for c in checks) / n, 4))
    return out


def candidates_at_time(model, tokenizer, prompts: int, seed: int) -> dict:
    """Mean token log-probability of the returned poem, and seconds per poem, for 1, 4 and 8 candidates."""
    from neuroart.poetry import write_poem

    out = {}
    for count in (1, 4, 8):
        started, scores = time.time(), []
        for k in range(prompts):
            form = ("五言绝句", "七言绝句")[k % 2]
            scores.append(write_poem(model, tokenizer, form=form, seed=seed + 1000 + k, num_candidates=count).score)
        out[str(count)] = {"mean_logprob": round(sum(scores) / len(scores), 4),
                           "seconds_per_poem": round((time.time() - started) / prompts, 3)}
    return out


def english_section(model, tokenizer, split: dict, smoke: bool, seed: int = 0) -> dict:
    from neuroart.poetry import Lexicon, LineIndex, write_poem
    from neuroart.poetry.english import verse_style
    from neuroart.poetry.lexicon import WORD_RUN, lexicon_of
    from neuroart.training.data import load_poems

    folder = Path(split["train_file"]).parent
    val, _, _ = load_poems(train_file=str(folder / "val_en.jsonl"))
    train, _, _ = load_poems(train_file=str(folder / "train_en.jsonl"))
    eval_poems = val[:10] if smoke else val
    out = {"val_sonnets": len(val), "train_poems": len(train),
           "val_nats_per_char": round(model_nats_per_char(model, tokenizer, eval_poems), 4),
           "bigram_nats_per_char": round(bigram_nats_per_char([p["text"] for p in train],
                                                              [p["text"] for p in eval_poems]), 4)}
    index = LineIndex.from_poems(p["text"] for p in train)
    lexicon = Lexicon.from_texts(p["text"] for p in train)  # the words the poet read: what "invented" is measured by
    out["lexicon_words"] = len(lexicon)
    out["lexicon_shipped"] = lexicon_of(model) is not None
    out["val_words_outside_lexicon"] = words_outside(lexicon, (p["text"] for p in eval_poems))  # Shakespeare's share
    calls = 2 if smoke else 20
    for form in ("quatrain", "sonnet"):
        poems, free, unlimited, started = [], [], [], time.time()
        for k in range(calls):
            poems.append(write_poem(model, tokenizer, form=form, seed=seed + k))
        seconds = (time.time() - started) / calls
        for k in range(calls // 2):
            free.append(write_poem(model, tokenizer, form=form, seed=seed + k, rhyme=False))
        started = time.time()
        for k in range(calls // 2):
            unlimited.append(write_poem(model, tokenizer, form=form, seed=seed + k, lexicon=None))
        unlimited_seconds = (time.time() - started) / max(1, calls // 2)
        lines = sum(p.check["num_lines"] for p in poems)
        out[form] = {
            "poems": calls,
            "lines_ok": round(sum(p.check["lines_ok"] for p in poems) / calls, 4),
            "rhyme_scheme_kept": round(sum(p.check["rhyme_ok"] for p in poems) / calls, 4),
            "rhyme_pairs_ok": round(sum(p.check["rhyme_pairs_ok"] for p in poems)
                                    / max(1, sum(p.check["rhyme_pairs"] for p in poems)), 4),
            "lines_relaxed": sum(sum(r.startswith("line") for r in p.relaxed) for p in poems),
            "copy_rate": round(index.copy_rate(p.text for p in poems), 4),
            "copied_lines": sum(len(index.copied_lines(p.text)) for p in poems), "lines": lines,
            "mean_logprob": round(sum(p.score for p in poems[: calls // 2]) / max(1, calls // 2), 4),
            "mean_logprob_rhyme_off": round(sum(p.score for p in free) / max(1, len(free)), 4),
            "rhyme_off_scheme_kept": round(sum(check_scheme(p.text, form) for p in free) / max(1, len(free)), 4),
            "words_outside_lexicon": words_outside(lexicon, (p.text for p in poems)),
            "poems_with_a_word_outside_lexicon": round(sum(words_outside(lexicon, [p.text]) > 0 for p in poems)
                                                       / calls, 4),
            "distinct_2_words": distinct_words(p.text for p in poems[: calls // 2]),
            "lexicon_off": {  # the same seeds with `lexicon=None`: what the mask removes, and what it costs
                "words_outside_lexicon": words_outside(lexicon, (p.text for p in unlimited)),
                "poems_with_a_word_outside_lexicon": round(
                    sum(words_outside(lexicon, [p.text]) > 0 for p in unlimited) / max(1, len(unlimited)), 4),
                "invented_words": sorted({w for p in unlimited for w in WORD_RUN.findall(verse_style(p.text))
                                          if w not in lexicon})[:40],
                "mean_logprob": round(sum(p.score for p in unlimited) / max(1, len(unlimited)), 4),
                "rhyme_scheme_kept": round(sum(p.check["rhyme_ok"] for p in unlimited) / max(1, len(unlimited)), 4),
                "distinct_2_words": distinct_words(p.text for p in unlimited),
                "seconds_per_poem": round(unlimited_seconds, 2),
            },
            "seconds_per_poem": round(seconds, 2),
            "examples": [p.text for p in poems[:3]],
        }
    return out


def words_outside(lexicon, texts) -> float:
    """The share of the words of `texts` (in the training verse style) that `lexicon` lacks."""
    from neuroart.poetry.english import verse_style
    from neuroart.poetry.lexicon import WORD_RUN

    words = [w for text in texts for w in WORD_RUN.findall(verse_style(text))]
    return round(sum(w not in lexicon for w in words) / max(1, len(words)), 4)


def distinct_words(texts) -> float:
    """Distinct word bigrams over all word bigrams within lines (Li et al., 2016's distinct-2, on words)."""
    from neuroart.poetry.english import verse_style

    lines = [verse_style(line).split() for text in texts for line in text.split("\n")]
    bigrams = [tuple(words[i : i + 2]) for words in lines for i in range(len(words) - 1)]
    return round(len(set(bigrams)) / max(1, len(bigrams)), 4)


def check_scheme(text: str, form: str) -> bool:
    from neuroart.poetry import check_english_poem
    from neuroart.poetry.english import RHYME_SCHEMES

    return check_english_poem(text, RHYME_SCHEMES[form], None)["rhyme_ok"]


def poetry_section(model_dir: str, smoke: bool, seed: int = 0, device: str = "cpu") -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchmarks.common import release_split
    from neuroart.poetry import FORMS, LineIndex, write_poem
    from neuroart.training.data import load_poems
    from neuroart.training.train_poetry import normalise

    split = release_split("poetry")
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval().to(device)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    val, _, _ = load_poems(train_file=split["validation_file"])
    val = [normalise(p) for p in val]
    train, _, _ = load_poems(train_file=split["train_file"])
    train = [normalise(p) for p in train]
    tang_train = train[: split["train_tang"]]
    result = {"model": str(model_dir), "val_tang_poems": len(val), "train_poems": len(train), "device": device}
    eval_poems = val[:40] if smoke else val
    started = time.time()
    result["val_nats_per_char"] = round(model_nats_per_char(model, tokenizer, eval_poems), 4)
    result["bigram_nats_per_char"] = round(bigram_nats_per_char([p["text"] for p in train],
                                                                [p["text"] for p in eval_poems]), 4)
    index = LineIndex.from_poems(p["text"] for p in train)
    # Some held-out poems share lines with training poems (a 绝句 taken from a 律诗, a poem under two names): the same
    # measure on the held-out poems with no line found in training is the figure that no copy can flatter.
    unseen = [p for p in eval_poems if not index.copied_lines(p["text"])]
    result["val_unseen_lines_poems"] = len(unseen)
    result["val_nats_per_char_unseen_lines"] = round(model_nats_per_char(model, tokenizer, unseen), 4)
    result["nats_seconds"] = round(time.time() - started, 1)
    human = rates([p["text"] for p in (tang_train[:500] if smoke else tang_train + val)])
    result["human"] = human

    calls = 2 if smoke else 50
    per_form, all_candidates, returned, unstuttered = {}, [], [], []
    for form in FORMS:
        cands, best, free = [], [], []
        for k in range(calls):
            poem = write_poem(model, tokenizer, form=form, seed=seed + k, num_candidates=4, tone=True)
            cands += [t for t, _, _ in poem.candidates]
            best.append(poem.text)
            if k < calls // 2:
                off = write_poem(model, tokenizer, form=form, seed=seed + k, num_candidates=4, tone=True,
                                 no_stutter=False)
                free += [t for t, _, _ in off.candidates]
        per_form[form] = {"candidates": rates(cands, form), "returned": rates(best, form),
                          "without_no_stutter": rates(free, form), "example": best[0]}
        all_candidates += [(t, form) for t in cands]
        returned += [(t, form) for t in best]
        unstuttered += [(t, form) for t in free]

    def pooled(items):
        by_form = {}
        for text, form in items:
            by_form.setdefault(form, []).append(text)
        parts = [rates(texts, form) for form, texts in by_form.items()]
        total = sum(p["poems"] for p in parts)
        return {key: round(sum(p[key] * p["poems"] for p in parts) / total, 4)
                for key in parts[0] if key != "poems"} | {"poems": total}

    result["constrained"] = pooled(all_candidates)
    result["constrained"]["copy_rate"] = round(index.copy_rate(t for t, _ in all_candidates), 4)
    result["constrained"]["distinct_2"] = round(distinct_2([t for t, _ in all_candidates]), 4)
    result["returned"] = pooled(returned)
    result["returned"]["copy_rate"] = round(index.copy_rate(t for t, _ in returned), 4)
    result["without_no_stutter"] = pooled(unstuttered)
    result["per_form"] = per_form

    rng = random.Random(seed)
    hits = total = 0
    keyword_examples = []
    for form in FORMS:
        for k in range(calls):
            source = rng.choice(val)["text"]
            chars = [c for c in source if "\u4e00" <= c <= "\u9fff"]
            if k % 2:
                keywords = rng.sample(chars, 2)
            else:
                line = rng.choice([line for line in source.split("\n") if len(line) > 3])
                start = rng.randrange(0, len(line) - 3)
                keywords = [line[start : start + 2]]
            poem = write_poem(model, tokenizer, form=form, seed=seed + k, keywords=keywords, num_candidates=4)
            body = poem.text.replace("\n", "")
            ok = all(w in body for w in keywords)
            hits += ok
            total += 1
            if len(keyword_examples) < 4:
                keyword_examples.append({"keywords": keywords, "poem": poem.text, "relaxed": poem.relaxed})
    result["keywords_present"] = round(hits / total, 4)
    result["keywords_examples"] = keyword_examples
    theme = write_poem(model, tokenizer, form="七言绝句", title="春江花月", keywords=list("春江花月"), seed=seed)
    result["theme_poem"] = theme.text
    result["theme_chars_present"] = sum(c in theme.text for c in "春江花月")

    result["candidates"] = candidates_at_time(model, tokenizer, 4 if smoke else 40, seed)
    if "▁the" in tokenizer.get_vocab():
        result["english"] = english_section(model, tokenizer, split, smoke, seed)
    print("poetry", json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, ensure_ascii=False),
          flush=True)
    return result
