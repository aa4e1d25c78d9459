"""Poems with guaranteed form: constrained decoding for classical Chinese and English verse.

`write_poem(model, tokenizer, form="七言绝句", acrostic="春夏秋冬", rhyme=True, tone=False, ...)`:

- `ChineseFormLogitsProcessor` (`logits_process.py`) masks the logits at every step so that only legal tokens remain: CJK characters
  inside a line (exactly 5 or 7), then `，` on odd lines and `。` on even lines, a newline, and `</s>` right after the
  last line. The form is therefore exact whatever the model's weights (an untrained model writes a valid form).
- `acrostic` forces the first character of each line (藏头诗).
- `rhyme`: the last character of every even line must share a 平声 group of the 平水韵 with the first even line's
  ending; `tone`: 平仄 rules (二四六分明, 对, 粘, odd lines after the first end on 仄) restrict the characters at
  positions 2/4/6 and the line ends. Polyphonic or unknown characters are wildcards. If a vocabulary cannot satisfy
  a rule at some step, that rule is relaxed for that step and the relaxation is recorded.
- No stutter (`no_stutter=True`, the default): a character may not come a third time in the poem (in a row, in a
  line or across lines: 重字, which the poets avoid), and a line may not repeat an earlier one; doubled characters
  (叠字 such as 青青) stay allowed. This is a mask like the form, so it holds whatever the weights. A character
  again in its line, apart from the first (月暗夜深夜; the poets' 花落花开), costs 1.5 nats instead of being banned,
  one from an earlier line 2 nats (秋天 ... 秋月 ... 秋风) and a doubling 1 nat (陪诏诏; the poets' 萧萧 are near-
  certain to the model and barely feel it): each chosen to meet the held-out Tang poets' rate.
- `keywords` (characters or words) are planned Jiuge-style: each gets a line (a seeded plan per candidate, distinct
  lines while they last) and may not take the acrostic's first character or a rhymed line end; the model places it
  freely until the line has just enough room left, then it is forced in. No keyword character comes more than
  twice (more only if the keywords ask for it more often): the model would otherwise echo it. A keyword that cannot be placed (not in
  the vocabulary, longer than a line, no room) or that breaks a tone rule where it is forced is listed in
  `Poem.relaxed`, never dropped silently.
- `num_candidates` poems are sampled and reranked: passing checks first, then the model's own fluency (mean token
  log-probability). Sampling runs on a private random stream seeded by `seed` (`seeded_rng`).
- English (`form="quatrain"|"sonnet"`): written a line at a time, each line chosen among sampled candidates so the
  rhyme scheme holds (`english.py`).

Constrained decoding after Jiuge / CharPoet's form control (Zhipeng Guo et al., 2019, "Jiuge: A Human-Machine
Collaborative Chinese Classical Poetry Generation System"; Yu et al., 2024, "CharPoet", arXiv:2401.03512).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessorList

from .english import write_english_poem
from .lexicon import LEXICON_FILE, Lexicon, lexicon_of
from .logits_process import ChineseFormLogitsProcessor
from .prosody import ENGLISH_FORMS, FORMS, check_poem
from .tokenization import format_prompt


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
    settings: dict = field(default_factory=dict)  # the call's settings, defaults resolved (the seed apart)

    def __str__(self) -> str:
        return self.text

    @property
    def provenance(self) -> dict:
        """What the saved file's footer records: the model, the seed and the settings (the form among them)."""
        return {"model": self.model or "neuroart-poetry", "seed": self.seed, "form": self.form, **self.settings}

    def save(self, folder, settings: dict | None = None) -> list[str]:
        """Write `poem_<seed>.txt` into `folder`: the poem, then a provenance footer (AI-generated, the model, the
        seed, the form and the settings). Returns the paths written. (`settings=` is deprecated: the poem knows
        its own; what it passes is added to them until the next release.)"""
        import json
        import os
        import warnings

        if settings is not None:
            warnings.warn("Poem.save(settings=...) is deprecated: the poem records its own settings (`.settings`). "
                          "The argument goes in the next release.", FutureWarning, stacklevel=2)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"poem_{self.seed}.txt")
        recorded = {key: value for key, value in {**self.settings, **(settings or {})}.items() if key != "form"}
        extra = f", settings {json.dumps(recorded, ensure_ascii=False, sort_keys=True)}" if recorded else ""
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


def sampling_settings(model, temperature=None, top_k=None, top_p=None) -> dict:
    """The sampling settings of a call: each one given, else the model's `generation_config` value (a release ships
    the ones it was measured with), else transformers' own default (temperature 1, top-k 50, top-p 1: the same for
    every NeuroArt model). Out-of-range values raise a ValueError naming the setting."""
    config = getattr(model, "generation_config", None)
    settings = {"temperature": 1.0, "top_k": 50, "top_p": 1.0}
    for name, value in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p)):
        value = getattr(config, name, None) if value is None else value
        settings[name] = settings[name] if value is None else value
    if isinstance(settings["temperature"], bool) or not 0 < float(settings["temperature"]) <= 5:
        raise ValueError(f"temperature={settings['temperature']!r} is out of range; use (0, 5].")
    if isinstance(settings["top_k"], bool) or not 0 <= int(settings["top_k"]) <= 100_000:
        raise ValueError(f"top_k={settings['top_k']!r} is out of range; use 0 (off) to 100000.")
    if isinstance(settings["top_p"], bool) or not 0 < float(settings["top_p"]) <= 1:
        raise ValueError(f"top_p={settings['top_p']!r} is out of range; use (0, 1] (1 = off).")
    return {"temperature": float(settings["temperature"]), "top_k": int(settings["top_k"]),
            "top_p": float(settings["top_p"])}


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
               temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
               seed: int | None = None, rhyme_scheme: str | None = None, line_index=None,
               max_new_tokens: int | None = None, no_stutter: bool = True, lexicon="auto") -> Poem:
    """Write one poem in `form`; see the module docstring. Returns a `Poem` (use `.text`; `.seed`, `.settings`,
    `.provenance` and `.save(folder)` as every NeuroArt result).

    `temperature`, `top_k` and `top_p` default to the model's `generation_config` (`sampling_settings`): the
    release ships the ones it was measured with.

    Classical forms: every keyword (a character or a word) is planned into a line and forced in before that line
    ends; one that cannot be placed is listed in `Poem.relaxed`. `no_stutter` bans a character a third time in the
    poem and a repeated line (doubled characters such as 青青 stay allowed), and makes a character dearer a second
    time: in its line, apart from the first; from an earlier line; doubled.

    English forms: `lexicon` is the words the poet may write (`lexicon.LexiconLogitsProcessor`, so that it invents
    none): "auto" (the default) reads the `english_words.txt` shipped beside the weights (no limit where there is
    none), None lifts it, and a `Lexicon` or an iterable of words replaces it. Keywords are always allowed.

    The randomness comes from
    `seed` alone (a private generator state, never the global stream's), so the same call gives the same poem
    whatever else the process is doing.
    """
    if isinstance(keywords, str):
        keywords = keywords.replace("，", " ").replace(",", " ").split()
    if not 1 <= num_candidates <= 64:
        raise ValueError(f"num_candidates={num_candidates} is out of range; use 1 to 64.")
    sampling = sampling_settings(model, temperature, top_k, top_p)
    temperature, top_k, top_p = sampling["temperature"], sampling["top_k"], sampling["top_p"]
    seed = random.randrange(2**31) if seed is None else int(seed)
    settings = {"form": form, "title": title, "keywords": keywords, "acrostic": acrostic, "rhyme": rhyme,
                "tone": tone, "num_candidates": num_candidates, **sampling, "no_stutter": no_stutter}
    prompt = format_prompt(form, title, keywords)
    input_ids = torch.tensor([tokenizer(prompt, add_special_tokens=False).input_ids], device=model.device)
    prompt_length = input_ids.shape[1]
    if form in FORMS:
        processor = ChineseFormLogitsProcessor(tokenizer, form, prompt_length, acrostic, rhyme, tone,
                                               keywords=keywords, no_stutter=no_stutter, num_rows=num_candidates,
                                               seed=seed)
        lines, chars = FORMS[form]
        needed = lines * (chars + 2) + 1  # characters, marks, newlines, </s>: the form fixes the length
        if max_new_tokens is not None and max_new_tokens < needed:
            raise ValueError(f"max_new_tokens={max_new_tokens} is too few for a {form}, which takes {needed} tokens; "
                             "leave it unset.")
        max_new_tokens = needed
    elif form in ENGLISH_FORMS:
        if acrostic:
            raise ValueError("acrostic is for classical Chinese forms.")
        if max_new_tokens is not None:
            raise ValueError(f"max_new_tokens={max_new_tokens} does not apply to {form}: its lines are written one at "
                             "a time, and the form fixes how many; leave it unset.")
        if lexicon == "auto":
            lexicon = lexicon_of(model)
            settings["lexicon"] = LEXICON_FILE if lexicon is not None else None
        elif lexicon is not None:
            lexicon = lexicon if isinstance(lexicon, Lexicon) else Lexicon(lexicon)
            settings["lexicon"] = f"custom ({len(lexicon)} words)"
        else:
            settings["lexicon"] = None
        with seeded_rng(seed, model.device):
            poem = write_english_poem(model, tokenizer, form, title=title, keywords=keywords, rhyme=rhyme,
                                      rhyme_scheme=rhyme_scheme, num_candidates=num_candidates,
                                      temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                                      line_index=line_index, lexicon=lexicon)
        poem.settings = {**settings, "rhyme_scheme": rhyme_scheme}
        return poem
    elif form is None:
        processor = None
    else:
        raise ValueError(f"form={form!r} is unknown; use one of {list(FORMS) + list(ENGLISH_FORMS)} or None.")
    limit = model.config.max_position_embeddings - prompt_length
    max_new_tokens = min(256 if max_new_tokens is None else max_new_tokens, limit)
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
        else:
            verdict, passes = {}, []
        ranked.append((tuple(passes), score if math.isfinite(score) else -1e9, text, verdict))
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    best = ranked[0]
    copied = line_index.copied_lines(best[2]) if line_index is not None else []
    return Poem(text=best[2], form=form, check=best[3], score=best[1], seed=seed,
                candidates=[(t, v, s) for _, s, t, v in ranked], relaxed=sorted(set(processor.relaxed))
                if isinstance(processor, ChineseFormLogitsProcessor) else [], copied_lines=copied,
                model=str(getattr(model, "name_or_path", "") or ""), settings=settings)


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


__all__ = ["ChineseFormLogitsProcessor", "LineIndex", "Poem", "sampling_settings", "seeded_rng", "write_poem"]
