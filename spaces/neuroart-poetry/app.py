"""NeuroArt Poetry: a Gradio Space that writes classical Chinese (五言/七言 绝句/律诗) and English poems in an exact
form, and explains line by line why a poem passes its form, rhyme (平水韵) and tone (平仄) rules.

The model and its helpers (`generation.write_poem`, `prosody.explain_poem`) are Hub remote code shipped with the
weights, so this Space needs transformers, torch and gradio (plus the prosody tables), not the neuroart repo.
Model: `NEUROART_POETRY_MODEL` (a Hub id or a local folder; default `neuroart/neuroart-poetry`).
"""

import os

# Before torch: on 2-vCPU Spaces, OpenMP's spin-waiting makes 2-thread torch up to 60x slower on small ops.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.dynamic_module_utils import get_class_from_dynamic_module  # noqa: E402
from transformers.utils import cached_file  # noqa: E402


# Copied from neuroart.network.offline_if_unreachable
def offline_if_unreachable(timeout: float = 1.0) -> bool:
    """Switch huggingface_hub to offline mode when the Hub endpoint does not answer within `timeout` seconds;
    returns whether the process is offline. A no-op when `HF_HUB_OFFLINE` is set or `NEUROART_NETWORK_PROBE=0`."""
    if "HF_HUB_OFFLINE" in os.environ or os.environ.get("NEUROART_NETWORK_PROBE", "1") == "0":
        return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co",
                                       endpoint.port or (443 if endpoint.scheme == "https" else 80)), timeout=timeout):
            return False
    except OSError:  # no DNS, refused, unreachable, timed out
        pass
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"  # child processes (accelerate launch, workers) inherit it
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # read at call time by huggingface_hub and transformers
    return True


offline_if_unreachable()  # before the first Hub call: without a network the cached models load at once

# NEUROART_DEVICE: "cpu", "cuda" (or "cuda:1", "mps"), or unset for a GPU when there is one.
DEVICE = os.environ.get("NEUROART_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
MODEL_ID = os.environ.get("NEUROART_POETRY_MODEL", "neuroart/neuroart-poetry")
CHINESE_FORMS = list(get_class_from_dynamic_module("prosody.FORMS", MODEL_ID))  # the poet's remote code's forms
ENGLISH_FORMS = list(get_class_from_dynamic_module("prosody.ENGLISH_FORMS", MODEL_ID))
LIMITS = {"candidates": (1, 8), "temperature": (0.1, 2.0), "seed": (0, 2**31 - 1), "text": 40, "pasted": 400}


LOAD_LOCK = threading.Lock()  # concurrent first requests must not load the models twice at once


@functools.lru_cache(maxsize=1)
def _load():
    """(model, tokenizer, write_poem, explain_poem, line index or None), loaded once."""
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID, trust_remote_code=True).eval().to(DEVICE)
    tokenizer = AutoTokenizer.from_pretrained(MODEL_ID, trust_remote_code=True)
    write_poem = get_class_from_dynamic_module("generation.write_poem", MODEL_ID)
    explain_poem = get_class_from_dynamic_module("prosody.explain_poem", MODEL_ID)
    index_file = cached_file(MODEL_ID, "poem_lines.txt.gz", _raise_exceptions_for_missing_entries=False)
    index = get_class_from_dynamic_module("generation.LineIndex", MODEL_ID).load(index_file) if index_file else None
    return model, tokenizer, write_poem, explain_poem, index


def _sibling(name: str):
    """This folder's `<name>.py` as a module, by path (the Space runs as a script or is imported by tests)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"neuroart_poetry_space_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The attention view (a copy of neuroart.poetry.attention; not in the model's remote code).
ATTENTION = _sibling("attention")


def load():
    with LOAD_LOCK:
        return _load()


def number(name: str, value, kind=float):
    """`value` as `kind` within LIMITS[name], or a gr.Error that says the allowed range."""
    low, high = LIMITS[name]
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number from {low} to {high}.") from None
    if not low <= value <= high:
        raise gr.Error(f"{name} must be from {low} to {high}; got {value}.")
    return value


def short_text(name: str, value, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise gr.Error(f"{name} is too long: {len(value)} characters; at most {limit}.")
    return value


def write(language, form, title, keywords, acrostic, rhyme, tone, candidates, temperature, seed):
    """Write one poem; returns (poem, Markdown check)."""
    forms = CHINESE_FORMS if language == "中文" else ENGLISH_FORMS
    if form not in forms:
        raise gr.Error(f"form {form!r} is not one of the {language} forms; choose one of {', '.join(forms)}.")
    title = short_text("title", title, LIMITS["text"])
    keywords = short_text("keywords", keywords, LIMITS["text"]).replace("，", " ").replace(",", " ").split()
    acrostic = short_text("acrostic", acrostic, 8).replace(" ", "")
    if acrostic and language != "中文":
        raise gr.Error("Acrostics (藏头诗) are for the Chinese forms.")
    lines = 4 if "绝句" in form else 8
    if acrostic and len(acrostic) != lines:
        raise gr.Error(f"The acrostic needs one character per line: {lines} for {form}; got {len(acrostic)}.")
    model, tokenizer, write_poem, explain_poem, index = load()
    try:
        poem = write_poem(model, tokenizer, form=form, title=title or None, keywords=keywords or None,
                          acrostic=acrostic or None, rhyme=bool(rhyme), tone=bool(tone),
                          num_candidates=number("candidates", candidates, int),
                          temperature=number("temperature", temperature), seed=number("seed", seed, int),
                          line_index=index)
    except ValueError as error:  # e.g. a character the tokenizer does not know
        raise gr.Error(str(error)) from None
    if language == "中文":
        report = explain_poem(poem.text, form, tone=bool(tone))
    else:
        report = f"**{form}**: {poem.check.get('num_lines', 0)} lines " + ("✓" if poem.check.get("lines_ok") else "✗")
        if rhyme:
            report += (f"; rhyme {'ABAB' if form == 'quatrain' else 'ABAB CDCD EFEF GG'}: "
                       f"{poem.check.get('rhyme_pairs_ok', 0)} of {poem.check.get('rhyme_pairs', 0)} pairs rhyme "
                       + ("✓" if poem.check.get("rhyme_ok") else "✗"))
    if poem.relaxed:
        report += "\n\nNot honoured: " + ", ".join(poem.relaxed)
    if poem.copied_lines:
        report += "\n\nLines found verbatim in the training corpus: " + " / ".join(poem.copied_lines)
    footer = f"\n\n— AI-generated by NeuroArt ({MODEL_ID}, seed {poem.seed})"
    return poem.text + footer, report


def attention(poem_text, language, form, title, keywords):
    """The attention heatmap of a written poem (image) and its caption, for the "Inside the poet" tab."""
    body = (poem_text or "").split("\n\n— AI-generated")[0].strip()
    if not body:
        raise gr.Error("Write a poem first (the Write tab), then look inside.")
    if language == "中文" and form not in CHINESE_FORMS:
        raise gr.Error(f"Unknown form {form!r}.")
    model, tokenizer = load()[:2]
    view, caption = ATTENTION.attention_view, ATTENTION.ATTENTION_CAPTION
    image = view(model, tokenizer, short_text("poem", body, LIMITS["pasted"]), form,
                 short_text("title", title, LIMITS["text"]) or None, short_text("keywords", keywords, LIMITS["text"]) or None)
    return image, caption


def check(text, form):
    """Check a pasted poem; returns Markdown."""
    text = short_text("poem", text, LIMITS["pasted"])
    if not text:
        raise gr.Error("Paste a poem first, e.g. 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    explain_poem = load()[3]
    return explain_poem(text, None if form == "auto" else form)


def switch_language(language):
    forms = CHINESE_FORMS if language == "中文" else ENGLISH_FORMS
    return gr.Dropdown(choices=forms, value=forms[1] if language == "中文" else forms[0])


with gr.Blocks(title="NeuroArt Poetry") as demo:
    gr.Markdown("# NeuroArt Poetry 诗\nExact forms, acrostics (藏头诗), 平水韵 rhyme and 平仄 tone, with a check that "
                "explains every line. Poems are AI-generated.")
    with gr.Tab("Write"):
        with gr.Row():
            with gr.Column():
                language = gr.Radio(["中文", "English"], value="中文", label="Language")
                form = gr.Dropdown(CHINESE_FORMS, value="七言绝句", label="Form")
                title = gr.Textbox(label="Title 题目", max_length=LIMITS["text"])
                keywords = gr.Textbox(label="Keywords 关键词 (space-separated)", max_length=LIMITS["text"])
                acrostic = gr.Textbox(label="Acrostic 藏头 (one character per line)", max_length=8)
                with gr.Row():
                    rhyme = gr.Checkbox(True, label="Rhyme 押韵")
                    tone = gr.Checkbox(False, label="Tone 平仄")
                candidates = gr.Slider(*LIMITS["candidates"], value=4, step=1, label="Candidates to rerank")
                temperature = gr.Slider(*LIMITS["temperature"], value=0.9, step=0.05, label="Temperature")
                seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=LIMITS["seed"][1])
                button = gr.Button("Write", variant="primary", elem_id="write")
            with gr.Column():
                poem = gr.Textbox(label="Poem", lines=10, elem_id="poem", buttons=["copy"])
                report = gr.Markdown(elem_id="report")
        language.change(switch_language, language, form, api_visibility="private")
        button.click(write, [language, form, title, keywords, acrostic, rhyme, tone, candidates, temperature, seed],
                     [poem, report], api_name="write", concurrency_limit=2)
    with gr.Tab("Inside the poet 看诗人在看什么"):
        gr.Markdown("Which earlier characters did the poet look at while writing each line? Write a poem in the "
                    "first tab, then press the button.")
        look = gr.Button("Show the attention", elem_id="look")
        heatmap = gr.Image(label="Attention per line", type="pil", elem_id="heatmap")
        caption = gr.Markdown(elem_id="caption")
        look.click(attention, [poem, language, form, title, keywords], [heatmap, caption], api_name="attention",
                   concurrency_limit=2)
    with gr.Tab("Check a poem"):
        pasted = gr.Textbox(label="Your poem", lines=6, max_length=LIMITS["pasted"],
                            placeholder="白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
        check_form = gr.Dropdown(["auto", *CHINESE_FORMS], value="auto", label="Form")
        check_button = gr.Button("Check", elem_id="check")
        verdict = gr.Markdown(elem_id="verdict")
        check_button.click(check, [pasted, check_form], verdict, api_name="check", concurrency_limit=4)

demo.queue(max_size=32, default_concurrency_limit=2)

if __name__ == "__main__":
    load()
    demo.launch(max_file_size="1mb")
