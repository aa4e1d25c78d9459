"""Composing with the NeuroArt music model: primer continuation, steering, harmonisation, and the decoding loop.

The composer's other helpers live beside this file, one concern each, and are re-exported here: `tokenization.py`
(the REMI tokenizer, MIDI sources to scores and token ids, MIDI bytes with provenance), `theory.py` (keys, scales,
key finding), `logits_process.py` (grammar, key, density, voices, metre and tonality processors),
`harmony_process.py` (chords, voice leading), `cadence_process.py` (the opening and the cadence),
`texture_process.py` (voice ranges, no re-struck notes off the beat), `harmonization.py` (a melody kept as the top
voice),
`harmony.py` (the harmony measures), `sampling.py` (the lean sampling loop, the sampling defaults, the seeded
stream) and `audio.py` (`render_audio`, `piano_roll_image`). This file holds `Composition` and `generate_music`.

- `generate_music(model, tokenizer, primer=..., keep_primer=False, num_bars=8, key="Am", density="high", ...)`
  continues a primer (MIDI path, bytes or `symusic.Score`) and returns a `Composition` (the `symusic.Score` is
  its `.score`; `.seed`, `.settings`, `.provenance` and `.save(folder)` as every NeuroArt result). `key` masks pitches
  outside the key's scale (a logits processor); `density` biases notes per onset and bar length; `meter` sets the
  metre of a new piece; `voices` caps the notes sounding at once; generation stops after `num_bars` bars. A grammar
  mask keeps sampling inside REMI's grammar (Huang & Yang, 2020, arXiv:2002.00212); tokens that still break it (e.g.
  with a BPE vocabulary) are dropped before decoding and counted (`token_errors`, `token_error_rate`). A note cut off
  by the length limit (`max_new_tokens`, `max_time`) is dropped too and counted apart (`unfinished`): it is no error.
- `harmonize=True` keeps a melody note for note as the top voice and writes the voices under it (Magenta's
  PolyphonyRNN harmonisation, Hadjeres et al.'s DeepBach task).

Optional dependencies: miditok and symusic (the `train` extra); numpy and Pillow.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    LogitsProcessorList,
    StoppingCriteriaList,
    SuppressTokensLogitsProcessor,
)

from .audio import piano_roll_image, render_audio  # noqa: F401  (re-exported: one import for apps)
from .cadence_process import CadenceLogitsProcessor, melody_cadence, melody_opening  # noqa: F401  (re-exported)
from .harmonization import (  # noqa: F401  (re-exported)
    HarmonizeLogitsProcessor,
    _melody_events,
    _MelodyNote,
    _satb,
    _split_voices,
    melody_line,
)
from .harmony_process import ChordLogitsProcessor, VoiceLeadingLogitsProcessor  # noqa: F401  (re-exported)
from .logits_process import (  # noqa: F401  (re-exported)
    BarStoppingCriteria,
    DensityLogitsProcessor,
    KeyLogitsProcessor,
    MeterLogitsProcessor,
    REMIGrammarLogitsProcessor,
    TonalityLogitsProcessor,
    VoicesLogitsProcessor,
    _grammar,
    _ReadingProcessor,
    _TokenTypes,
    meter_prior,
    meters,
    repair_tokens,
    trim_unfinished,
)
from .sampling import _RNG_LOCK, sample_tokens, sampling_settings, seeded_rng  # noqa: F401  (re-exported)
from .texture_process import RangeLogitsProcessor, RestrikeLogitsProcessor  # noqa: F401  (re-exported)
from .theory import (  # noqa: F401  (re-exported)
    FLATS,
    KEY_TONICS,
    KEYS,
    MAJOR,
    MINOR,
    NOTE_NAMES,
    _key_of_histogram,
    draw_key,
    estimate_key,
    in_scale_rate,
    key_prior,
    notes_per_bar,
    parse_key,
    scale_pitch_classes,
)
from .tokenization import (  # noqa: F401  (re-exported)
    MAX_BEATS,
    _empty_midi,
    _need_miditok,
    build_tokenizer,
    encode,
    load_tokenizer,
    midi_provenance,
    score_to_midi_bytes,
    split_long_notes,
    to_score,
)

# Biases chosen against the same model's free pieces at the same seeds (the measure `release_quality` reports):
# the steering of chords and voice leading changes how many notes a bias thins away (docs/releases/music.md).
DENSITIES = {"low": -1.75, "medium": 0.0, "high": 2.0}
# Tokens per bar that `max_new_tokens=None` allows for `num_bars`: a bar of four busy voices takes up to about 300.
TOKENS_PER_BAR = 320


@dataclass
class Composition:
    """What `generate_music` returns: the piece (`score`, a `symusic.Score`), how it was made (`seed`, `settings`,
    `provenance`) and what it takes to go on: `generate_music(..., continue_from=piece)` adds more bars from the
    model's own state, exactly where this call stopped (no re-reading of the piece). `save(folder)` writes it.

    Until the next release, a `Composition` also answers for its score (`piece.tracks`, `piece.dump_midi(...)`),
    with a FutureWarning: `generate_music` used to return the bare score."""

    score: object  # symusic.Score
    token_ids: list[int]
    token_errors: int  # tokens dropped for breaking REMI's grammar (0 with the grammar mask)
    seed: int
    sequence: list[int] = field(default_factory=list)  # every id the model has seen or written, BOS first
    state: object = None  # the model's returned NeuroArtMusicState (None for models without one)
    unfinished: int = 0  # tokens of a last note the length limit cut off, dropped before decoding (no error)
    melody_missing: int = 0  # harmonize=True: melody notes not in the Soprano (0 unless a time or token limit hit)
    settings: dict = field(default_factory=dict)  # the call's settings, "auto" ones resolved (the seed apart)
    model: str = ""  # the model's name or path, for the provenance
    copies: object = None  # with `passage_index=`: a CopyReport, the passages found in the training pieces

    @property
    def token_error_rate(self) -> float:
        return self.token_errors / max(1, len(self.token_ids))

    @property
    def provenance(self) -> dict:
        """What the MIDI file's meta text records: the model, the seed and the settings."""
        return {"model": self.model or "neuroart-music", "seed": self.seed, **self.settings}

    def save(self, folder, provenance: dict | None = None, audio: bool = True) -> list[str]:
        """Write `music_<seed>.mid` (`provenance` in its meta text, with what `provenance` adds or overrides) into
        `folder`, and with `audio` also `music_<seed>.wav` (`render_audio`) and `music_<seed>.png` (the piano roll).
        Returns the paths written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"music_{self.seed}"
        meta = {**self.provenance, **(provenance or {}), "seed": self.seed}
        stem.with_suffix(".mid").write_bytes(score_to_midi_bytes(self.score, meta))
        paths = [str(stem.with_suffix(".mid"))]
        if audio:
            render_audio(self.score, stem.with_suffix(".wav"))
            piano_roll_image(self.score).save(stem.with_suffix(".png"))
            paths += [str(stem.with_suffix(".wav")), str(stem.with_suffix(".png"))]
        return paths

    def __getattr__(self, name):
        # Only reached for names a Composition lacks: the score's (the old return value), for one more release.
        if name.startswith("_") or name == "score" or "score" not in self.__dict__:
            raise AttributeError(name)
        value = getattr(self.__dict__["score"], name)  # raises AttributeError for names neither has
        warnings.warn(f"generate_music now returns a Composition; use `.score.{name}` (the symusic.Score) instead "
                      f"of `.{name}`. The shortcut goes in the next release.", FutureWarning, stacklevel=2)
        return value


def generate_music(model, tokenizer, primer=None, max_new_tokens: int | None = None, num_bars: int | None = None,
                   temperature: float | None = None, top_k: int | None = None, top_p: float | None = None,
                   seed: int | None = None, keep_primer: bool = False, key: str | None = "auto", density=None,
                   return_details: bool | None = None, max_time: float | None = None, grammar: bool = True,
                   harmonize: bool = False, continue_from: Composition | None = None, voices="auto",
                   tonality="auto", meter="auto", lean: bool = True, chords="auto",
                   passage_index=None) -> Composition:
    """Compose (or continue `primer`) and return a `Composition` (the piece is its `.score`).

    `temperature`, `top_k` and `top_p` default to the model's `generation_config` (`sampling_settings`): the
    release ships the ones it was measured with. `return_details` is no longer needed (a Composition always comes
    back); `return_details=False` still returns the bare score, with a FutureWarning, until the next release.

    `harmonize=True` reads `primer` as a melody (a monophonic line, or the skyline of a polyphonic file) and writes
    a four-part setting of it: the melody's notes stay exactly as they are as the top voice (track "Soprano"), and
    the model writes Alto, Tenor and Bass under them (`HarmonizeLogitsProcessor`). It stops at the melody's end
    (`num_bars` defaults to the melody's bars). The added voices keep to the key softly (`tonality`: the key of
    the notes so far, the melody's included), so that they may modulate and take a chromatic note where the model
    is sure of it, as Bach's lower voices do (about one note in nine outside the melody's key); a named `key`
    ("G") masks them to its scale.

    `continue_from=piece` (a `Composition`, from `return_details=True`) continues that piece from the model's state
    ("add 8 more bars"): the result holds the new bars only, or the whole piece with `keep_primer=True`.

    `voices` caps how many notes sound at once (`VoicesLogitsProcessor`): an int, None for no cap, or "auto" (the
    default) for the model's own `generation_config.max_voices` (5 for the Bach-chorale release; none elsewhere). With
    `harmonize=True`, "auto" means no cap: a cap could keep a melody note from starting, and the melody's onsets
    and at most three lower notes per onset shape the texture instead.

    `key` is the key of the piece. A key ("G", "Bb", "Am") masks every pitch outside its scale
    (`KeyLogitsProcessor`). "auto" (the default) draws a new piece's key from the model's
    `generation_config.key_prior` (the training pieces' keys, `key_prior`; `draw_key`, by the seed) and holds it
    softly (`tonality`); `Composition.settings["home_key"]` names it. Either way, with `chords` on, a new piece opens
    on the key's tonic triad and cadences in it, as chorales do. None (or "chromatic") leaves the key to the model.
    A primer, a piece continued or a melody to harmonise brings its own key, held softly.

    `tonality` (nats, 0 = off) keeps the music in the key it has set up (`TonalityLogitsProcessor`, a soft bias
    that `key=` replaces with a hard mask); "auto" (the default) reads the model's `generation_config.tonality`.

    `chords` (nats, 0 = off) steers each onset's notes towards a triad or seventh chord (`ChordLogitsProcessor`),
    away from parallel fifths and octaves (`VoiceLeadingLogitsProcessor`, twice as strong), each voice into its
    SATB range (`RangeLogitsProcessor`; not after a primer, which brings its own register), away from notes
    re-struck off the beat (`RestrikeLogitsProcessor`) and, where the piece's
    length is known (`num_bars`, a melody), its ending towards a cadence (`CadenceLogitsProcessor`, twice as strong;
    a melody's by `melody_cadence`); "auto" (the default) reads the model's `generation_config.chords`.

    `meter` sets the metre of a piece written from no primer: a metre the tokenizer knows ("4/4", "3/4"; `meters`),
    a dict of metre -> probability to draw it from, None for the model's own choice, or "auto" (the default) for
    the model's `generation_config.meter_prior` (the training pieces' metres, `meter_prior`; the model's own choice
    where there is none). A primer, a melody to harmonise or `continue_from` brings its own metre.

    `passage_index` (a `PassageIndex`: the release ships its training passages as `passage_index.safetensors`)
    fills `Composition.copies`: which of the piece's 8-onset passages repeat a training piece, up to transposition.

    `max_time` (seconds) stops sampling early, for apps that bound the time of a request. `grammar` masks tokens
    that REMI's grammar forbids after the previous one (plain REMI vocabularies; a BPE-trained one is left free).

    `max_new_tokens` defaults to room for `num_bars` bars (`TOKENS_PER_BAR` each; 512 without `num_bars`); a
    piece that the limit cuts short of `num_bars` says so with a warning.

    `lean=True` (the default) samples with `sample_tokens`, the lean loop; `lean=False` with `model.generate()`.
    Both give the same tokens for the same seed."""
    _need_miditok()
    if max_new_tokens is not None and not 1 <= max_new_tokens <= 8192:
        raise ValueError(f"max_new_tokens={max_new_tokens} is out of range; use 1 to 8192, or None.")
    if num_bars is not None and not 1 <= num_bars <= 256:
        raise ValueError(f"num_bars={num_bars} is out of range; use 1 to 256.")
    sampling = sampling_settings(model, temperature, top_k, top_p)
    temperature, top_k, top_p = sampling["temperature"], sampling["top_k"], sampling["top_p"]
    if return_details is not None:
        warnings.warn("generate_music(return_details=...) is deprecated: a Composition always comes back (the "
                      "score is its `.score`). The argument goes in the next release.", FutureWarning, stacklevel=2)
    density_name = density
    if isinstance(density, str):
        if density not in DENSITIES:
            raise ValueError(f"density={density!r} is unknown; use {list(DENSITIES)} or a number from -5 to 5.")
        density = DENSITIES[density]
    if density is not None and not -5 <= float(density) <= 5:
        raise ValueError(f"density={density} is out of range; use -5 to 5.")
    if voices == "auto":  # harmonising: the melody's onsets and the lower-notes rule shape the texture instead
        voices = None if harmonize else getattr(getattr(model, "generation_config", None), "max_voices", None)
    if voices is not None and (isinstance(voices, (bool, str)) or not 1 <= int(voices) <= 64):
        raise ValueError(f"voices={voices!r} is out of range; use 1 to 64, None (no cap) or 'auto'.")
    if tonality == "auto":
        tonality = getattr(getattr(model, "generation_config", None), "tonality", None)
    if tonality is not None and (isinstance(tonality, (bool, str)) or not 0 <= float(tonality) <= 20):
        raise ValueError(f"tonality={tonality!r} is out of range; use 0 to 20 nats, None (off) or 'auto'.")
    if chords == "auto":
        chords = getattr(getattr(model, "generation_config", None), "chords", None)
    if chords is not None and (isinstance(chords, (bool, str)) or not 0 <= float(chords) <= 20):
        raise ValueError(f"chords={chords!r} is out of range; use 0 to 20 nats, None (off) or 'auto'.")
    brings_metre = primer is not None or harmonize or continue_from is not None
    if meter == "auto":
        meter = None if brings_metre else getattr(getattr(model, "generation_config", None), "meter_prior", None)
    elif meter is not None and brings_metre:
        raise ValueError(f"meter={meter!r}: the primer (or the melody, or the piece continued) sets the metre; "
                         "leave meter='auto'.")
    if isinstance(meter, str) and meter not in meters(tokenizer):
        raise ValueError(f"meter={meter!r} is unknown to this tokenizer; use one of {meters(tokenizer)}.")
    seed = random.randrange(2**31) if seed is None else int(seed)
    home = None  # a new piece's key, drawn from the training pieces' keys and held softly
    # No mask unless a key is named. A melody to harmonise brings its own key, held softly, so that the setting may
    # modulate with it (a cadence in the dominant needs its leading note, which a mask in the melody's key banned).
    if key == "auto":
        prior = getattr(getattr(model, "generation_config", None), "key_prior", None)
        key, home = None, (draw_key(prior, seed) if prior and not brings_metre else None)
    elif key == "chromatic":
        key = None  # no key mask; the tonality steering holds the key of the notes so far
    elif key is not None:
        parse_key(key)  # a misspelt key fails here, by name
    types = _TokenTypes(tokenizer)
    harmony = None
    if harmonize:
        if primer is None:
            raise ValueError("harmonize=True needs a melody: pass primer= (a MIDI path, bytes or symusic.Score).")
        melody = melody_line(primer)
        events, timesigs, melody_bars = _melody_events(tokenizer, types, melody)
        if not events:
            raise ValueError("harmonize=True: the primer has no notes to harmonise.")
        num_bars = num_bars or melody_bars
        needed = min(8192, 48 * len(events) + 8 * num_bars)  # every melody note, with room for the voices under it
        if max_new_tokens is not None and max_new_tokens < needed:
            raise ValueError(f"max_new_tokens={max_new_tokens} is too few to harmonise this melody of {len(events)} "
                             f"notes, which takes up to {needed}; leave it unset.")
        max_new_tokens = max_new_tokens or needed
        decoded_melody = tokenizer.decode(encode(tokenizer, melody))
        melody_notes = {(n.time, n.pitch) for t in decoded_melody.tracks for n in t.notes}
        melody_end = max(n.time + n.duration for t in decoded_melody.tracks for n in t.notes)
        primer, keep_primer = None, False
    if max_new_tokens is None:  # room for the bars asked for (a four-voice bar takes up to about 300 tokens)
        max_new_tokens = min(8192, TOKENS_PER_BAR * num_bars) if num_bars else 512
    if continue_from is not None:
        if primer is not None or harmonize:
            raise ValueError("continue_from= continues a piece; do not pass primer= or harmonize= with it.")
        if not continue_from.sequence:
            raise ValueError("continue_from= needs a Composition returned with return_details=True.")
    primer_ids = encode(tokenizer, primer) if primer is not None else []
    prompt = [types.bos] + primer_ids
    if continue_from is not None:  # the piece so far (its trailing Bar included) is the primer
        prompt = list(continue_from.sequence)
        primer_ids = [t for t in prompt if t != types.bos]
    # A piece continued after its trailing Bar: that Bar opens the new music (counted and kept with it).
    reopened = int(continue_from is not None and prompt[-1] == types.bar)
    if reopened:
        primer_ids = primer_ids[:-1]
    elif primer_ids and not keep_primer and continue_from is None and types.bar is not None:
        # Only the new music is returned: it opens with a Bar of its own, right after the primer.
        prompt, reopened = prompt + [types.bar], 1
    input_ids = torch.tensor([prompt], device=model.device)
    processors = LogitsProcessorList()
    if grammar and not getattr(tokenizer, "is_trained", False):
        processors.append(REMIGrammarLogitsProcessor(types))
    if meter and types.bar is not None:
        processors.append(MeterLogitsProcessor(tokenizer, meter, types))
    if key:
        processors.append(KeyLogitsProcessor(tokenizer, key, types))
    if density:
        processors.append(DensityLogitsProcessor(tokenizer, float(density), types))
    if voices:
        processors.append(VoicesLogitsProcessor(tokenizer, int(voices), types))
    if tonality and not key:  # a key mask already keeps every pitch in its scale
        processors.append(TonalityLogitsProcessor(tokenizer, float(tonality), types, home=home))
    if chords:
        melody_onsets = {(e.bar, e.position): e.pitch for e in events} if harmonize else None
        processors.append(ChordLogitsProcessor(tokenizer, float(chords), types, melody=melody_onsets))
        # Parallels at twice the strength, as the cadence: a parallel is one note, easy to avoid, where a chord is
        # the model's whole onset (the factor was chosen on the training chorales' sopranos: docs/releases/music.md).
        processors.append(VoiceLeadingLogitsProcessor(tokenizer, 2 * float(chords), types, melody=melody_onsets))
        if primer is None:  # a chorale's own register (a melody's too); a primer brings its own
            processors.append(RangeLogitsProcessor(tokenizer, float(chords), types, melody=melody_onsets))
        processors.append(RestrikeLogitsProcessor(tokenizer, float(chords), types,
                                                  until_bar=num_bars - 1 if num_bars else None))
        if (num_bars or home) and types.bar is not None and continue_from is None:  # an opening, an ending
            zones, final, either_third, opening = None, key or home, False, None if brings_metre else key or home
            end = None
            if harmonize:  # opens on the chord it closes on, or on its key's tonic, where the melody allows
                zones, final, either_third = melody_cadence(melody_onsets)
                end = (events[-1].bar, events[-1].position + types.length[events[-1].duration])  # the melody's end
                zones, opening = zones or (), melody_opening(melody_onsets, key or estimate_key(melody), final,
                                                             either_third)
            if zones != () or opening:
                processors.append(CadenceLogitsProcessor(tokenizer, 2 * float(chords), types, num_bars=num_bars,
                                                         key=final, zones=zones, start=len(prompt) - reopened,
                                                         either_third=either_third, melody=melody_onsets,
                                                         opening=opening, end=end))
    if harmonize:  # last: its forced melody tokens override the other masks
        harmony = HarmonizeLogitsProcessor(tokenizer, types, events, timesigs, len(prompt))
        processors.append(harmony)
    criteria = StoppingCriteriaList()
    if num_bars and types.eos is not None:  # `num_bars` bars means that many: the bar count ends the piece
        processors.insert(0, SuppressTokensLogitsProcessor([types.eos], device=model.device))
    if num_bars:
        criteria.append(BarStoppingCriteria(types.bar, len(prompt) - reopened, num_bars))
    extra = {"cache": continue_from.state} if continue_from is not None and continue_from.state is not None else {}
    if lean and hasattr(getattr(model, "model", None), "step"):
        # The lean loop draws from its own generator: the same seed gives the same music under any load, and no
        # lock is taken (a poem written in another thread meanwhile neither waits nor disturbs it).
        generator = torch.Generator(device=model.device).manual_seed(seed)
        output, state = sample_tokens(model, input_ids, processors, criteria, max_new_tokens,
                                      temperature=temperature, top_k=top_k, top_p=top_p, eos_token_id=types.eos,
                                      pad_token_id=tokenizer.pad_token_id, max_time=max_time, generator=generator,
                                      **extra)
    else:  # transformers' generate() draws from the global stream: a seeded private copy of it, one call at a time
        with seeded_rng(seed, model.device):  # the same tokens as the lean loop, more per-step overhead
            output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), do_sample=True,
                                    temperature=temperature, top_k=top_k or None, top_p=top_p,
                                    max_new_tokens=max_new_tokens, logits_processor=processors,
                                    stopping_criteria=criteria, eos_token_id=types.eos,
                                    pad_token_id=tokenizer.pad_token_id, max_time=max_time,
                                    return_dict_in_generate=True, **extra)
        output, state = output.sequences, getattr(output, "cache", None)
    new_ids = output[0, len(prompt) - reopened:].tolist()
    if num_bars:  # cut at the start of bar num_bars + 1
        bars = [i for i, t in enumerate(new_ids) if t == types.bar]
        if len(bars) > num_bars:
            new_ids = new_ids[: bars[num_bars]]
        elif harmony is None and output.shape[1] - len(prompt) >= max_new_tokens:
            warnings.warn(f"num_bars={num_bars}: the token limit (max_new_tokens={max_new_tokens}) ended the piece "
                          f"in bar {len(bars)}; raise max_new_tokens (or leave it unset).", stacklevel=2)
    ids = (primer_ids if keep_primer else []) + new_ids
    if not keep_primer and primer_ids and new_ids and new_ids[0] != types.bar and continue_from is None:
        # Continuing mid-bar: start the new music at the next bar so it decodes on its own.
        first_bar = next((i for i, t in enumerate(new_ids) if t == types.bar), None)
        ids = new_ids[first_bar:] if first_bar is not None else new_ids
    ids, unfinished = trim_unfinished(tokenizer, ids)  # a note the length limit cut off: no grammar error
    clean, dropped = repair_tokens(tokenizer, ids)
    score = tokenizer.decode(clean) if clean else to_score(_empty_midi())
    missing = 0
    if harmony is None and voices is not None and int(voices) <= 5 and primer is None and continue_from is None:
        score = _satb(score)  # a chorale texture, written in one stream: four named voices, as a harmonisation
    if harmony is not None:
        score = _split_voices(score, melody_notes, melody_end)
        kept = {(n.time, n.pitch) for t in score.tracks if t.name == "Soprano" for n in t.notes}
        missing = len(melody_notes - kept)
        if missing:
            warnings.warn(f"harmonize: {missing} of the melody's {len(melody_notes)} notes are missing (a time or "
                          "token limit was reached); raise max_time or max_new_tokens.", stacklevel=2)
    settings = {"num_bars": num_bars, "max_new_tokens": max_new_tokens, **sampling,
                "key": "auto" if home else key, "home_key": home, "density": density_name, "voices": voices, "tonality": tonality, "chords": chords,
                "meter": meter, "harmonize": harmonize, "keep_primer": keep_primer, "grammar": grammar,
                "max_time": max_time, "continued": continue_from is not None}
    piece = Composition(score=score, token_ids=ids, token_errors=dropped, seed=seed, sequence=output[0].tolist(),
                        state=state, unfinished=unfinished, melody_missing=missing, settings=settings,
                        model=str(getattr(model, "name_or_path", "") or ""),
                        copies=passage_index.report(score) if passage_index is not None else None)
    # `sequence` ends with the token the state has not read yet (e.g. the next Bar)
    return score if return_details is False else piece


__all__ = [
    "BarStoppingCriteria",
    "HarmonizeLogitsProcessor",
    "estimate_key",
    "melody_line",
    "Composition",
    "DensityLogitsProcessor",
    "sampling_settings",
    "KEYS",
    "KEY_TONICS",
    "KeyLogitsProcessor",
    "draw_key",
    "key_prior",
    "MeterLogitsProcessor",
    "meter_prior",
    "meters",
    "build_tokenizer",
    "encode",
    "generate_music",
    "in_scale_rate",
    "load_tokenizer",
    "midi_provenance",
    "notes_per_bar",
    "parse_key",
    "piano_roll_image",
    "render_audio",
    "repair_tokens",
    "trim_unfinished",
    "VoicesLogitsProcessor",
    "TonalityLogitsProcessor",
    "scale_pitch_classes",
    "score_to_midi_bytes",
    "split_long_notes",
    "to_score",
]
