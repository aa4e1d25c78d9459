"""In-scale note rate of MIDI files for a key (the key-steering control metric), as an `evaluate` metric."""

import datasets
import evaluate

from neuroart.music.generation import in_scale_rate, to_score

_DESCRIPTION = "Pooled share of notes whose pitch class lies in the key's scale (major, or harmonic+natural minor)."
_CITATION = "NeuroArt."
_INPUTS = "predictions: MIDI files as bytes; references: keys such as 'C', 'Am', 'F#m'."


class NeuroartMusicKey(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("binary"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        scores = [to_score(bytes(p)) for p in predictions]
        notes = sum(s.note_num() for s in scores)
        inside = sum(in_scale_rate(s, key) * s.note_num() for s, key in zip(scores, references))
        return {"in_scale_rate": inside / max(1, notes), "notes": notes}
