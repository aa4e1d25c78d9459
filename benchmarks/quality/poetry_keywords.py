#!/usr/bin/env python
"""Keywords in the poet's poems: present, and at what price. The release on keywords drawn from held-out titles.

    python -m benchmarks.quality.poetry_keywords [--poems 40] [--poetry_model releases/neuroart-poetry] [--smoke]

For each of `--poems` held-out Tang poems of the release recipe (`neuroart.training.release_data poetry`) whose
title has at least two distinct CJK characters, two of its title characters are the keywords of a 五言绝句 and a
七言绝句 in turn, at seed k. Beside each keyword poem, the same call without keywords (same form, same seed).
Reported:
- keywords_present: poems with every keyword in them (target >= 0.97);
- nll_cost_per_token: the model's own mean NLL per token (`Poem.score`, the ranking's fluency; nearly one token per character) with keywords
  minus without, same seeds (target <= 0.15);
- over_twice: poems with a keyword character more than twice;
- rhyme_slot_not_rhyming: keyword characters at a rhymed line end that does not rhyme (target 0);
- line_end_share: keyword characters at a line end, of all keyword characters in the poems;
- a few poems with and without keywords, to read.
Writes `benchmarks/results/poetry_keywords.json`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, write_results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--poetry_model", default=str(REPO_ROOT / "releases" / "neuroart-poetry"))
    parser.add_argument("--poems", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="Four poems; writes nothing.")
    args = parser.parse_args(argv)
    setup_threads(1)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import neuroart  # noqa: F401
    from benchmarks.common import release_split
    from neuroart.poetry import check_poem, write_poem

    split = release_split("poetry")
    held_out = [json.loads(line) for line in Path(split["validation_file"]).read_text(encoding="utf-8").splitlines()]
    titles = []
    for poem in held_out:
        chars = list(dict.fromkeys(c for c in poem.get("title", "") if "\u4e00" <= c <= "\u9fff"))
        if len(chars) >= 2:
            titles.append(chars[:2])
    count = 4 if args.smoke else args.poems
    model = AutoModelForCausalLM.from_pretrained(args.poetry_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.poetry_model)
    present = over = not_rhyming = at_end = keyword_chars = 0
    nll_with = nll_without = 0.0
    examples = []
    for k, keywords in enumerate(titles[:count]):
        form = ("五言绝句", "七言绝句")[k % 2]
        poem = write_poem(model, tokenizer, form=form, keywords=keywords, seed=k, num_candidates=4)
        free = write_poem(model, tokenizer, form=form, seed=k, num_candidates=4)
        lines = poem.text.split("\n")
        body = "".join(lines)
        present += all(w in body for w in keywords)
        over += any(body.count(c) > 2 for c in keywords)
        rhymed = check_poem(poem.text, form).rhyme_ok
        for index, line in enumerate(lines):
            chars = [c for c in line if "\u4e00" <= c <= "\u9fff"]
            keyword_chars += sum(c in keywords for c in chars)
            if chars and chars[-1] in keywords:
                at_end += 1
                not_rhyming += index % 2 == 1 and not rhymed
        nll_with -= poem.score
        nll_without -= free.score
        if len(examples) < 10:
            examples.append({"keywords": keywords, "form": form, "seed": k, "with": poem.text, "without": free.text,
                             "relaxed": poem.relaxed})
    n = max(1, min(count, len(titles)))
    summary = {"poems": n, "keywords_present": round(present / n, 3),
               "nll_cost_per_token": round((nll_with - nll_without) / n, 3),
               "nll_with": round(nll_with / n, 3), "nll_without": round(nll_without / n, 3),
               "over_twice": over, "rhyme_slot_not_rhyming": not_rhyming,
               "line_end_share": round(at_end / max(1, keyword_chars), 3)}
    print(json.dumps(summary, ensure_ascii=False))
    if not args.smoke:
        write_results("poetry_keywords", summary, {"model": args.poetry_model, "examples": examples})
    return summary


if __name__ == "__main__":
    main()
