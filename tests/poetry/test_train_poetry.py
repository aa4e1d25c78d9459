"""`accelerate launch training/train_poetry.py` smoke runs: tiny jsonl, resume, fine-tune, embedded default."""

import json
import re
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

from neuroart.poetry import FORMS, check_poem, write_poem
from neuroart.poetry.english import verse_style
from neuroart.training.checkpointing import list_checkpoints
from neuroart.training.data import FORTUNES_DIR
from tests.helpers import launch_script
from tests.helpers.corpora import POEMS

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out

TINY = ["--hidden_size", 32, "--num_hidden_layers", 2, "--num_attention_heads", 2, "--train_batch_size", 4,
        "--max_seq_length", 64, "--eval_steps", 5, "--sample_steps", 5, "--seed", 1]


def write_jsonl(path: Path, copies: int = 6) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(copies):
            for title, body in POEMS:
                handle.write(json.dumps({"title": title, "text": body, "keywords": ["月"] if i % 2 else None},
                                        ensure_ascii=False) + "\n")
        handle.write(json.dumps({"text": "the moon is bright upon the sea\nthe night is calm and still"}) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("poetry_run")
    data = write_jsonl(root / "poems.jsonl")
    out = root / "out"
    _, log = launch_script("train_poetry.py", "--train_file", data, "--output_dir", out, "--max_train_steps", 10,
                           "--checkpointing_steps", 5, *TINY)
    return out, log, data


def test_launch_produces_a_hub_ready_poet(trained):
    out, log, _ = trained
    for name in ("config.json", "model.safetensors", "modeling_neuroart_poetry.py", "tokenizer.json", "README.md",
                 "poem_lines.txt.gz", "samples/poems.txt", "samples/step_5.txt"):
        assert (out / name).exists(), name
    assert "kept 43, skipped 0" in log
    summary = json.loads((out / "training_summary.json").read_text())
    metrics = summary["metrics"]
    assert metrics["steps"] == 10 and metrics["val_nats_per_char"] > 0 and metrics["sample_form_accuracy"] == 1.0
    assert "val_nats_per_char" in (out / "README.md").read_text()
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    for form in FORMS:
        assert check_poem(write_poem(model, tokenizer, form=form, seed=0).text, form).form_ok


def test_pipeline_loads_the_output_folder(trained):
    out, _, _ = trained
    generator = pipeline("text-generation", model=str(out))
    result = generator("<s><七言绝句><poem>月", max_new_tokens=8, do_sample=False)
    assert result[0]["generated_text"].startswith("<s><七言绝句><poem>月")


def test_resume_continues_at_the_right_step(trained, tmp_path):
    out, _, data = trained
    import shutil

    shutil.copytree(out / "checkpoints" / "checkpoint-5", tmp_path / "r" / "checkpoints" / "checkpoint-5")
    shutil.copy(out / "tokenizer.json", tmp_path / "tokenizer.json")
    shutil.copy(out / "tokenizer_config.json", tmp_path / "tokenizer_config.json")
    _, log = launch_script("train_poetry.py", "--train_file", data, "--output_dir", tmp_path / "r",
                           "--tokenizer_name_or_path", tmp_path, "--max_train_steps", 8, "--checkpointing_steps", 4,
                           "--resume_from_checkpoint", "latest", *TINY)
    assert "at step 5" in log
    assert json.loads((tmp_path / "r" / "training_summary.json").read_text())["metrics"]["steps"] == 8
    assert [p.name for p in list_checkpoints(tmp_path / "r")] == ["checkpoint-5", "checkpoint-8"]


def test_fine_tune_from_saved_poet(trained, tmp_path):
    out, _, _ = trained
    mine = tmp_path / "mine.txt"
    mine.write_text("\n\n".join(body for _, body in POEMS[:3]), encoding="utf-8")
    _, log = launch_script("train_poetry.py", "--model_name_or_path", out, "--train_file", mine, "--output_dir",
                           tmp_path / "ft", "--max_train_steps", 3, *TINY)
    assert "fine-tuned from" in (tmp_path / "ft" / "README.md").read_text()


QUATRAINS = ["the moon is bright upon the sea\nthe night is calm and still\nthe stars are burning over me\n"
             "and silence on the hill",
             "when winter comes the rivers sleep\nthe willow bends in snow\nthe shepherd gathers in his sheep\n"
             "and lets the daylight go"]


def test_a_fine_tune_learns_new_tokens_for_a_new_language(trained, tmp_path):
    """--extend_vocabulary: new sub-words appended after the old ids, the embeddings grown, English written; the
    output ships the English words it learned (`english_words.txt`, the base poet's with them), and every word of
    a poem from it is one of those."""
    out, _, _ = trained
    english = tmp_path / "english.jsonl"
    english.write_text("".join(json.dumps({"form": "quatrain", "text": q}) + "\n" for q in QUATRAINS * 10))
    _, log = launch_script("train_poetry.py", "--model_name_or_path", out, "--train_file", english,
                           "--extend_vocabulary", 64, "--output_dir", tmp_path / "en", "--max_train_steps", 3,
                           "--train_batch_size", 4, "--max_seq_length", 64, "--seed", 1)
    old, new = AutoTokenizer.from_pretrained(out), AutoTokenizer.from_pretrained(tmp_path / "en")
    assert len(new) > len(old) and {t: new.get_vocab()[t] for t in old.get_vocab()} == old.get_vocab()
    assert "Vocabulary extended" in log
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "en").eval()
    assert model.config.vocab_size >= len(new)
    poem = write_poem(model, new, form="quatrain", seed=0, num_candidates=1)
    assert len(poem.text.split("\n")) == 4
    lexicon = set((tmp_path / "en" / "english_words.txt").read_text(encoding="utf-8").split())
    base = out / "english_words.txt"  # the base poet's English: its one English line, where it trained on it
    base = set(base.read_text(encoding="utf-8").split()) if base.exists() else set()
    assert {w for q in QUATRAINS for w in q.split()} | base == lexicon
    assert poem.settings["lexicon"] == "english_words.txt"
    assert set(re.findall(r"[a-z']+", verse_style(poem.text))) <= lexicon, poem.text


def test_embedded_default_fortunes(tmp_path):
    if not (FORTUNES_DIR / "tang300").exists():
        pytest.skip("Debian fortunes-zh is not installed (apt-get install fortunes-zh); .ci/run installs it")
    _, log = launch_script("train_poetry.py", "--output_dir", tmp_path / "d", "--max_train_steps", 2, *TINY)
    assert "embedded fortunes-zh" in log and "kept 409" in log


@pytest.mark.slow
def test_unpunctuated_corpus_trains_exports_and_writes(tmp_path):
    """A user's own corpus: one line per text line, no punctuation. The tokenizer still carries the form marks,
    samples at every sample step work, and the exported model writes every form."""

    data = tmp_path / "mine.jsonl"
    with data.open("w", encoding="utf-8") as handle:
        for _ in range(30):
            for title, body in POEMS[:5]:
                bare = re.sub(r"[，。？！；]", "", body)
                handle.write(json.dumps({"title": title, "text": bare}, ensure_ascii=False) + "\n")
    out = tmp_path / "out"
    _, log = launch_script("train_poetry.py", "--train_file", data, "--output_dir", out, "--max_train_steps", 6,
                           *TINY)
    assert "writing the sample poems failed" not in log
    assert (out / "samples" / "step_5.txt").exists() and (out / "model.safetensors").exists()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert all(tokenizer.convert_tokens_to_ids(mark) != tokenizer.unk_token_id for mark in "，。\n")
    model = AutoModelForCausalLM.from_pretrained(out)
    for form in FORMS:
        assert check_poem(write_poem(model, tokenizer, form=form, seed=0).text, form).form_ok


def test_sample_failure_never_costs_the_export(tmp_path, monkeypatch):
    """A crash while writing samples is logged; checkpoints and the export still happen."""
    data = write_jsonl(tmp_path / "poems.jsonl", copies=2)
    out = tmp_path / "out"
    _, log = launch_script("train_poetry.py", "--train_file", data, "--output_dir", out, "--max_train_steps", 6,
                           "--checkpointing_steps", 3, *TINY, env={"NEUROART_FAULT_SAMPLE": "1"})
    assert "writing the sample poems failed" in log
    assert (out / "model.safetensors").exists() and len(list_checkpoints(out)) >= 1


def test_torch_compile_option_trains_and_exports(tmp_path):
    """`--torch_compile` (accelerate's inductor backend) trains, the export is the plain model, and the card says the
    run was compiled."""
    data = write_jsonl(tmp_path / "poems.jsonl", copies=2)
    out = tmp_path / "out"
    launch_script("train_poetry.py", "--train_file", data, "--output_dir", out, "--max_train_steps", 3,
                  "--torch_compile", *TINY)
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 3 and "torch.compile" in metrics["hardware"]
    model = AutoModelForCausalLM.from_pretrained(out)
    assert not any(key.startswith("_orig_mod") for key in model.state_dict())


def test_a_small_corpus_fine_tune_stops_when_it_starts_to_copy(tmp_path):
    """Seven poems, many steps: the model learns them by heart; the copy check at each sample step stops the run
    (and exports it) once more than --max_copy_rate of the sample lines are training lines; --on_copy warn only
    warns. The card's metrics record each check."""
    data = write_jsonl(tmp_path / "poems.jsonl", copies=8)
    args = ["--train_file", data, "--max_train_steps", 400, "--learning_rate", 3e-3, "--sample_steps", 40,
            "--hidden_size", 64, "--num_hidden_layers", 2, "--num_attention_heads", 2, "--train_batch_size", 8,
            "--max_seq_length", 64, "--eval_steps", 1000, "--seed", 1, "--dropout", 0.0]
    _, log = launch_script("train_poetry.py", "--output_dir", tmp_path / "stop", *args)
    metrics = json.loads((tmp_path / "stop" / "training_summary.json").read_text())["metrics"]
    assert "copies of training lines" in log and "stopping here" in log
    assert metrics["steps"] == metrics["stopped_early_at_step"] < 400
    assert metrics["copy_checks"][-1][1] > 0.05 and (tmp_path / "stop" / "model.safetensors").exists()
    assert "copy_checks" in (tmp_path / "stop" / "README.md").read_text()


@pytest.mark.parametrize("script", ["train_music", "train_poetry"])
def test_a_fine_tune_refuses_an_architecture_flag_it_cannot_honour(script, tmp_path, capsys):
    """--hidden_size (and the other architecture flags) on a fine-tune used to be silently ignored."""
    import importlib

    from neuroart import NeuroArtMusicConfig, NeuroArtPoetryConfig

    config = (NeuroArtMusicConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1) if script == "train_music"
              else NeuroArtPoetryConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2))
    config.save_pretrained(tmp_path / "base")
    module = importlib.import_module(f"neuroart.training.{script}")
    same = module.parse_args(["--model_name_or_path", str(tmp_path / "base"), "--hidden_size", "16"])
    assert same.hidden_size == 16  # the model's own value: nothing to refuse
    with pytest.raises(SystemExit) as stopped:
        module.parse_args(["--model_name_or_path", str(tmp_path / "base"), "--hidden_size", "64"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "keeps its architecture" in error and "--hidden_size 64 (the model has hidden_size=16)" in error


def test_early_stopping_keeps_the_best_validated_weights(tmp_path):
    """Four poems learnt by heart while four others validate: the validation loss turns up, and after
    --early_stopping_patience worse checks the run stops with the weights of its best check."""
    train, held = tmp_path / "train.jsonl", tmp_path / "held.jsonl"
    for path, chosen in ((train, POEMS[:4] * 8), (held, POEMS[4:])):
        path.write_text("".join(json.dumps({"title": t, "text": b}, ensure_ascii=False) + "\n" for t, b in chosen),
                        encoding="utf-8")
    _, log = launch_script("train_poetry.py", "--train_file", train, "--validation_file", held, "--output_dir",
                           tmp_path / "out", "--max_train_steps", 400, "--learning_rate", 3e-3, "--eval_steps", 10,
                           "--early_stopping_patience", 2, "--sample_steps", 1000, "--max_copy_rate", 1,
                           "--hidden_size", 64, "--num_hidden_layers", 2, "--num_attention_heads", 2,
                           "--train_batch_size", 8, "--max_seq_length", 64, "--seed", 1, "--dropout", 0.0)
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert "Validation has not improved" in log
    assert metrics["best_val_step"] <= metrics["stopped_early_at_step"] - 20 and metrics["steps"] < 400
    assert metrics["stopped_early_at_step"] == metrics["steps"]


def test_a_small_corpus_fine_tune_takes_gentle_defaults_unless_told_otherwise():
    from neuroart.training import train_poetry

    args = train_poetry.parse_args(["--model_name_or_path", "some-poet", "--train_file", "mine.jsonl"])
    chosen = train_poetry.small_corpus_defaults(args, 40)
    assert chosen == train_poetry.SMALL_CORPUS_DEFAULTS and args.learning_rate == 1e-4 and args.eval_steps == 10
    args = train_poetry.parse_args(["--model_name_or_path", "some-poet", "--learning_rate", "5e-4",
                                    "--max_train_steps", "50"])
    chosen = train_poetry.small_corpus_defaults(args, 40)
    assert "learning_rate" not in chosen and "max_train_steps" not in chosen and args.learning_rate == 5e-4
    assert args.max_train_steps == 50 and args.early_stopping_patience == 2
    assert train_poetry.small_corpus_defaults(train_poetry.parse_args(["--model_name_or_path", "p"]), 5000) == {}
    assert train_poetry.small_corpus_defaults(train_poetry.parse_args([]), 40) == {}  # training from scratch
