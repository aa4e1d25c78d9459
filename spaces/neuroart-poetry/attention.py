"""Inside the poet: what each line of a poem attended to (`line_attention`), drawn as a heatmap (`attention_view`).

Not shipped beside the weights (the Hub remote code stays free of fonts and OS paths). The poetry Space deploys
without this package, so `spaces/neuroart-poetry/attention.py` is a byte-for-byte copy (a test keeps them equal):
this file imports nothing from the package and takes the prompt format from the model's own code.
"""

from __future__ import annotations

import importlib
import warnings

import torch


def _format_prompt(model, form, title, keywords) -> str:
    """The prompt format of the model's own code: `neuroart.poetry.tokenization` for the package's classes, the
    remote code's `tokenization` module for a model loaded with trust_remote_code."""
    package = type(model).__module__.rsplit(".", 1)[0]
    return importlib.import_module(f"{package}.tokenization").format_prompt(form, title, keywords)

# --------------------------------------------------------------------------------------------------------------
# Inside the poet: what each line attended to
# --------------------------------------------------------------------------------------------------------------
ATTENTION_CAPTION = (
    "Each row is one line of the poem; each cell one character the poet could see before writing that line (the "
    "title, the keywords and the earlier lines; the control tokens show as 始 start, 体 form, 题 title, 词 keywords "
    "and 诗 poem). The darker a cell, the more of that "
    "line's attention went to it: the attention weights of all layers and heads, averaged over the line's "
    "characters, counting only what came before the line and scaled so each row's darkest cell is full colour.")
_CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
              "/System/Library/Fonts/PingFang.ttc", "C:/Windows/Fonts/msyh.ttc")


def _cjk_font(size: int):
    """A TrueType font that draws CJK characters, at `size` px: a known path, else fontconfig's match for Chinese;
    None when the machine has none."""
    import shutil
    import subprocess

    from PIL import ImageFont

    candidates = list(_CJK_FONTS)
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh"], capture_output=True, text=True,
                                   timeout=5).stdout.strip()
            candidates.append(found)
        except (OSError, subprocess.SubprocessError):
            pass
    for path in candidates:
        try:
            font = ImageFont.truetype(path, size)
        except OSError:
            continue
        if font.getmask("诗").getbbox() is not None and font.getbbox("诗") != font.getbbox("\uffff"):
            return font
    return None


def line_attention(model, tokenizer, poem: str, form: str | None = None, title: str | None = None, keywords=None):
    """(labels of the context tokens, one row per line: the share of the line's attention on each earlier token).

    Rule: the attention weights of every layer and head are averaged; for line i, over the queries of its
    characters; only keys before the line's first character count, and each row is renormalised to sum to 1."""
    if isinstance(keywords, str):
        keywords = keywords.replace("，", " ").replace(",", " ").split()
    prompt = _format_prompt(model, form, title, keywords)
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    body_ids = tokenizer(poem.strip(), add_special_tokens=False).input_ids
    ids = torch.tensor([prompt_ids + body_ids], device=model.device)[:, : model.config.max_position_embeddings]
    with torch.no_grad():
        attentions = model(ids, output_attentions=True, use_cache=False).attentions
    weights = torch.stack([a[0].float().mean(0) for a in attentions]).mean(0)  # layers x (H, T, T) -> (T, T)
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    names = {"<s>": "始", "<title>": "题", "<kw>": "词", "<poem>": "诗", "▁": "·", " ": "·"}
    labels = [names.get(t, "体" if t.startswith("<") and t.endswith(">") and len(t) > 2 else t) for t in tokens]
    newline = tokenizer.convert_tokens_to_ids("\n")
    rows, line_start = [], len(prompt_ids)
    for index in range(len(prompt_ids), ids.shape[1] + 1):
        if index == ids.shape[1] or ids[0, index].item() == newline:
            if index > line_start:
                row = weights[line_start:index, :line_start].mean(0)  # (context,)
                rows.append((row / row.sum().clamp_min(1e-12)).tolist())
            line_start = index + 1
    width = max((len(r) for r in rows), default=0)
    return labels[:width], [r + [0.0] * (width - len(r)) for r in rows]


def attention_view(model, tokenizer, poem: str, form: str | None = None, title: str | None = None, keywords=None,
                   cell: int = 22):
    """A heatmap image (PIL) of `line_attention`: rows = the poem's lines, columns = the characters before them.
    Needs Pillow; a CJK font is used where one is installed (otherwise characters may show as boxes)."""
    from PIL import Image, ImageDraw, ImageFont

    labels, rows = line_attention(model, tokenizer, poem, form, title, keywords)
    font = _cjk_font(int(cell * 0.7))
    if font is None:  # a default font draws boxes for CJK: number the columns instead, and say why
        warnings.warn("No CJK font found (e.g. apt-get install fonts-wqy-microhei): the attention view labels its "
                      "columns with numbers instead of characters.", stacklevel=2)
        labels = [label if label.isascii() else str(index % 100) for index, label in enumerate(labels)]
    font = font or ImageFont.load_default()
    margin = 3 * cell
    image = Image.new("RGB", (margin + cell * max(1, len(labels)), cell * (len(rows) + 1)), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for column, label in enumerate(labels):
        draw.text((margin + column * cell + cell // 2, cell // 2), "" if label == "\n" else label, fill=(60, 60, 60),
                  font=font, anchor="mm")
    for index, row in enumerate(rows):
        top = (index + 1) * cell
        draw.text((cell // 4, top + cell // 2), f"L{index + 1}", fill=(60, 60, 60), font=font, anchor="lm")
        peak = max(row) or 1.0
        for column, value in enumerate(row[: len(labels)]):
            shade = value / peak
            colour = (255, int(255 - 200 * shade), int(255 - 220 * shade))
            draw.rectangle([margin + column * cell, top, margin + (column + 1) * cell - 1, top + cell - 1], fill=colour)
    return image


__all__ = ["ATTENTION_CAPTION", "attention_view", "line_attention"]
