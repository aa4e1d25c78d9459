"""Hub integration, offline: remote code in a fresh process, load by repo id from the HF cache, push to a loopback
Hub, model cards whose usage snippet runs as written, and the import rules of remote-code files."""

import ast
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from neuroart import NeuroArtGANModel, NeuroArtMusicForCausalLM, NeuroArtPoetryForCausalLM
from neuroart.kinds import NAMES
from tests.helpers import REPO_ROOT, run_python, tiny_gan_config, tiny_music_config, tiny_poetry_config
from tests.helpers.hub import FakeHub, populate_hf_cache

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out


def _models():
    torch.manual_seed(0)
    return {
        "gan": NeuroArtGANModel(tiny_gan_config(num_classes=2)).eval(),
        "music": NeuroArtMusicForCausalLM(tiny_music_config()).eval(),
        "poetry": NeuroArtPoetryForCausalLM(tiny_poetry_config()).eval(),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each tiny model saved to a folder, with reference outputs written beside it."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    x = torch.tensor([[5, 9, 3, 7, 11]])
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(1))
    for name, model in _models().items():
        folder = root / name
        model.save_pretrained(folder)
        if name == "gan":
            ref = {"images": model(noise=z, labels=torch.tensor([0, 1])).images,
                   "generated": model.generate_images(2, seed=3, output_type="pt")}
        else:
            ref = {"logits": model(input_ids=x).logits, "hidden": model.model(input_ids=x).last_hidden_state,
                   "generated": model.generate(x, max_new_tokens=12, do_sample=False)}
        torch.save(ref, root / f"{name}_ref.pt")  # test-only reference tensors, read back with weights_only=True
        out[name] = folder
    out["root"] = root
    return out


FRESH_CHECK = """
import sys, torch
from transformers import AutoModel, AutoModelForCausalLM
ref = torch.load(sys.argv[1] if len(sys.argv) > 1 else REF, weights_only=True)
x = torch.tensor([[5, 9, 3, 7, 11]])
z = torch.randn(2, 16, generator=torch.Generator().manual_seed(1))
if KIND == "gan":
    m = AutoModel.from_pretrained(SRC, trust_remote_code=True)
    assert torch.equal(m(noise=z, labels=torch.tensor([0, 1])).images, ref["images"])
    assert torch.equal(m.generate_images(2, seed=3, output_type="pt"), ref["generated"])
    from transformers import pipeline
    images = pipeline(model=SRC, trust_remote_code=True)(num_images=2, seed=3)
    assert len(images) == 2 and images[0].text["AI-generated"] == "true"
else:
    lm = AutoModelForCausalLM.from_pretrained(SRC, trust_remote_code=True)
    assert torch.equal(lm(input_ids=x).logits, ref["logits"])
    assert torch.equal(lm.generate(x, max_new_tokens=12, do_sample=False), ref["generated"])
    base = AutoModel.from_pretrained(SRC, trust_remote_code=True)
    assert torch.equal(base(input_ids=x).last_hidden_state, ref["hidden"])
    m = lm
assert "neuroart" not in sys.modules, "neuroart leaked into the fresh process"
print(type(m).__module__)
"""


def _fresh(kind: str, src: str, ref: Path, env: dict | None = None) -> str:
    header = f"KIND = {kind!r}\nSRC = {src!r}\nREF = {str(ref)!r}\n"
    return run_python(header + FRESH_CHECK, block_neuroart=True, env=env)


@pytest.mark.parametrize("kind", NAMES)
def test_fresh_process_remote_code_from_folder(saved, kind):
    module = _fresh(kind, str(saved[kind]), saved["root"] / f"{kind}_ref.pt")
    assert module.strip().startswith("transformers_modules."), module


@pytest.mark.parametrize("kind", NAMES)
def test_offline_cache_load_by_repo_id(saved, kind, tmp_path):
    hub_cache = tmp_path / "hub"
    repo_id = f"org/neuroart-{kind}"
    populate_hf_cache(saved[kind], repo_id, hub_cache)
    env = {"HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    # Without neuroart: remote code from the cache.
    module = _fresh(kind, repo_id, saved["root"] / f"{kind}_ref.pt", env=env)
    assert module.strip().startswith("transformers_modules.org.neuroart_hyphen_" + kind), module
    # With neuroart imported: the registered classes, no trust_remote_code needed.
    out = run_python(
        f"""
        import torch, neuroart
        from transformers import AutoModel, AutoModelForCausalLM
        auto = AutoModel if {kind!r} == "gan" else AutoModelForCausalLM
        m = auto.from_pretrained({repo_id!r})
        ref = torch.load({str(saved['root'] / f'{kind}_ref.pt')!r}, weights_only=True)
        if {kind!r} == "gan":
            assert torch.equal(m.generate_images(2, seed=3, output_type="pt"), ref["generated"])
        else:
            assert torch.equal(m(input_ids=torch.tensor([[5, 9, 3, 7, 11]])).logits, ref["logits"])
        print(type(m).__module__)
        """,
        env=env,
    )
    assert out.strip().startswith("neuroart."), out


def test_uncached_repo_fails_fast_offline(tmp_path):
    with pytest.raises(OSError):
        AutoModel.from_pretrained("org/not-cached-anywhere", cache_dir=tmp_path)


@pytest.mark.parametrize("kind", NAMES)
def test_push_to_loopback_hub_then_load_offline(saved, kind, tmp_path, monkeypatch):
    model = _models()[kind]
    repo_id = f"org/neuroart-{kind}"
    with FakeHub(tmp_path / "storage") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_fake")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        import huggingface_hub.constants as hf_constants

        monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        info = model.push_to_hub(repo_id, commit_message="first push")
    assert re.fullmatch(r"[0-9a-f]{40}", info.oid)
    assert ("POST", "/api/repos/create") in hub.requests
    pushed = tmp_path / "storage" / repo_id
    names = {p.name for p in pushed.iterdir()}
    assert {"config.json", "model.safetensors", "README.md", f"modeling_neuroart_{kind}.py",
            f"configuration_neuroart_{kind}.py"} <= names
    card = (pushed / "README.md").read_text()
    assert f'from_pretrained("{repo_id}"' in card and "library_name: transformers" in card
    hub_cache = tmp_path / "hub"
    populate_hf_cache(pushed, repo_id, hub_cache)
    env = {"HF_HUB_CACHE": str(hub_cache), "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    _fresh(kind, repo_id, saved["root"] / f"{kind}_ref.pt", env=env)


@pytest.mark.parametrize("kind", NAMES)
def test_model_card_metadata_and_usage_snippet_run_as_written(saved, kind, tmp_path):
    card = (saved[kind] / "README.md").read_text()
    front = card.split("---")[1]
    import yaml

    meta = yaml.safe_load(front)
    assert meta["library_name"] == "transformers" and meta["license"] == "mit"
    assert meta["pipeline_tag"] in ("unconditional-image-generation", "text-generation")
    assert "neuroart" in meta["tags"]
    snippet = re.search(r"## Usage\n\n```python\n(.*?)```", card, re.S).group(1)
    assert "$" not in snippet, "unrendered template variable"
    repo_id = re.search(r'from_pretrained\("([^"]+)"', snippet).group(1)
    assert repo_id == f"org/neuroart-{kind}"  # a fresh model's card names the default repo
    populate_hf_cache(saved[kind], repo_id, tmp_path / "hub")
    env = {"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    run_python(snippet, block_neuroart=True, cwd=tmp_path, env=env)


def test_card_renders_training_context(tmp_path):
    from neuroart.hub import write_model_card

    model = _models()["gan"]
    write_model_card(model, tmp_path, repo_id="me/style", metrics={"kid": 0.0123}, sample="samples/grid.png",
                     datasets=["huggan/wikiart"], training="Trained for 10 steps.", hyperparameters={"lr": 2e-4})
    card = (tmp_path / "README.md").read_text()
    assert "| kid | 0.0123 |" in card and "![samples](samples/grid.png)" in card
    assert "- huggan/wikiart" in card and '"lr": 0.0002' in card and 'from_pretrained("me/style"' in card


REMOTE_CODE_ALLOWED = {"torch", "transformers"}
# The extras a helper may import inside the function that needs them (never at module level).
REMOTE_CODE_OPTIONAL = {"miditok", "symusic", "numpy", "PIL", "opencc", "pronouncing", "tokenizers", "safetensors"}


def shipped_files(folder: str) -> list[Path]:
    """Every file that ships beside the weights: the modeling/configuration/pipeline files, the helper modules that
    `save_pretrained` copies (`HELPER_MODULES`), and whatever Python file the committed release folder holds."""
    import importlib

    source = REPO_ROOT / "modeling" / folder
    modeling = importlib.import_module(f"neuroart.{folder}.modeling_neuroart_{folder}")
    files = sorted(source.glob("*_neuroart_*.py")) + [source / name for name in getattr(modeling, "HELPER_MODULES", ())]
    files += sorted((REPO_ROOT / "releases" / f"neuroart-{folder}").glob("*.py"))
    return files


@pytest.mark.parametrize("folder", NAMES)
def test_remote_code_imports_only_stdlib_torch_transformers(folder):
    import sys

    files = shipped_files(folder)
    shipped_names = {path.name for path in files if path.parent.name.startswith("neuroart-")}
    assert shipped_names <= {path.name for path in files if path.parent.name == folder}, "a release ships a file "
    "that the package's save_pretrained does not write"
    for path in files:
        tree = ast.parse(path.read_text())
        lazy = set()  # imports inside a function or a try: optional, needed only when that code runs
        for node in ast.walk(tree):
            if isinstance(node, (ast.Try, ast.FunctionDef, ast.AsyncFunctionDef)):
                lazy.update(id(child) for child in ast.walk(node) if child is not node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > 0:
                    continue  # same-folder sibling
                roots = [node.module.split(".")[0]]
            else:
                continue
            for root in roots:
                where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {root}"
                assert root != "neuroart", f"{where}: remote code must not reach back into the package"
                allowed = REMOTE_CODE_ALLOWED | (REMOTE_CODE_OPTIONAL if id(node) in lazy else set())
                assert root in allowed or root in sys.stdlib_module_names, where


def test_nothing_imports_modeling_by_name():
    for path in REPO_ROOT.rglob("*.py"):
        if ".venv" in path.parts or "site-packages" in path.parts:
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) modeling\b", text, re.M), path


def test_import_neuroart_needs_only_torch_and_transformers():
    """Importing neuroart and building a model loads none of the extras' packages."""
    out = run_python(
        """
        import sys
        from transformers import AutoModel, PreTrainedModel, pipeline  # transformers may load accelerate itself
        extras = ("accelerate", "datasets", "miditok", "symusic", "gradio", "evaluate", "music21", "tensorboard")
        before = {name for name in extras if name in sys.modules}
        import neuroart
        from neuroart import NeuroArtGANConfig, NeuroArtGANModel
        NeuroArtGANModel(NeuroArtGANConfig(image_size=32))
        print(sorted(name for name in extras if name in sys.modules and name not in before))
        """
    )
    assert out.strip() == "[]"
