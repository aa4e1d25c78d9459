"""Real 2-process CPU training (gloo) through Accelerate for every script, and the numerical guards.

`accelerate launch --cpu --num_processes 2` silently runs one process; `ACCELERATE_USE_CPU=true accelerate launch
--multi_gpu --num_processes 2` gives two gloo ranks (see ../shared/docs/libs-mechanics.md).
"""

import json

import pytest
import torch

from tests.helpers import launch_script, make_midi, write_image_folder
from tests.helpers.corpora import POEMS

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out

TWO = {"ACCELERATE_USE_CPU": "true"}


def launch_two(script, *args):
    import os
    import subprocess
    import sys

    from tests.helpers import REPO_ROOT

    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--mixed_precision", "no", str(REPO_ROOT / "training" / script), *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, **TWO, "OMP_NUM_THREADS": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def test_gan_two_processes(tmp_path):
    data = write_image_folder(tmp_path / "data", per_class=4)
    log = launch_two("train_gan.py", "--train_data_dir", data, "--output_dir", tmp_path / "out", "--resolution", 32,
                     "--max_train_steps", 4, "--train_batch_size", 2, "--checkpointing_steps", 2,
                     "--generator_base_channels", 4, "--discriminator_base_channels", 4, "--max_channels", 32)
    assert "2 processes" in log
    summary = json.loads((tmp_path / "out" / "training_summary.json").read_text())
    assert summary["metrics"]["steps"] == 4 and summary["metrics"]["skipped_steps"] == 0
    assert (tmp_path / "out" / "checkpoints" / "checkpoint-4" / "random_states_1.pkl").exists()


def test_poetry_two_processes(tmp_path):
    path = tmp_path / "poems.jsonl"
    path.write_text("\n".join(json.dumps({"title": t, "text": b}, ensure_ascii=False) for t, b in POEMS * 4))
    log = launch_two("train_poetry.py", "--train_file", path, "--output_dir", tmp_path / "out", "--max_train_steps",
                     4, "--hidden_size", 32, "--num_hidden_layers", 1, "--num_attention_heads", 2,
                     "--max_seq_length", 32, "--train_batch_size", 2, "--checkpointing_steps", 2)
    assert "x 2 processes" in log
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 4 and metrics["skipped_steps"] == 0
    # DDP resumes from its own checkpoint, and the export (saved through accelerator.get_state_dict on the main
    # process) loads on a CPU with the weights the run ended with.
    log = launch_two("train_poetry.py", "--train_file", path, "--output_dir", tmp_path / "out", "--max_train_steps",
                     6, "--hidden_size", 32, "--num_hidden_layers", 1, "--num_attention_heads", 2,
                     "--max_seq_length", 32, "--train_batch_size", 2, "--checkpointing_steps", 2,
                     "--resume_from_checkpoint", "latest")
    assert "Resumed from" in log and "at step 4" in log
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    import neuroart  # noqa: F401

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out", device_map="cpu")
    last = load_file(tmp_path / "out" / "checkpoints" / "checkpoint-6" / "model.safetensors")
    torch.testing.assert_close(model.model.embed_tokens.weight, last["model.embed_tokens.weight"])


def test_music_two_processes(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.mid").write_bytes(make_midi(i))
    log = launch_two("train_music.py", "--train_data_dir", folder, "--output_dir", tmp_path / "out",
                     "--max_train_steps", 4, "--hidden_size", 16, "--num_hidden_layers", 1, "--max_seq_length", 32,
                     "--train_batch_size", 2, "--transpose", 0, "--sample_bars", 1, "--checkpointing_steps", 2)
    assert "x 2 processes" in log
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 4 and metrics["skipped_steps"] == 0


def test_all_finite_guard():
    from accelerate import Accelerator

    from neuroart.training.numerics import all_finite

    accelerator = Accelerator(cpu=True)
    assert all_finite(accelerator, torch.tensor(1.0), torch.ones(3))
    assert not all_finite(accelerator, torch.tensor(float("nan")))
    assert not all_finite(accelerator, torch.tensor([1.0, float("inf")]))


def test_launch_script_helper_is_single_process(tmp_path):
    pytest.importorskip("accelerate")
    _, log = launch_script("train_gan.py", "--output_dir", tmp_path / "o", "--resolution", 32, "--max_train_steps", 1,
                           "--num_default_images", 6, "--train_batch_size", 2, "--generator_base_channels", 4,
                           "--discriminator_base_channels", 4, "--max_channels", 32)
    assert "1 processes" in log


@pytest.mark.parametrize("script", ["train_poetry.py", "train_music.py"])
def test_two_processes_match_one_process_at_the_same_global_batch(script, tmp_path):
    """1 process x batch 4 and 2 processes x batch 2 see the same blocks at every step (seedable sampler, batches
    dealt round-robin), start from the same weights (DDP broadcasts rank 0's) and average gradients, so the logged
    mean loss curves agree up to float summation order. Dropout is off: its masks are per-process random streams."""
    if script == "train_poetry.py":
        path = tmp_path / "poems.jsonl"
        path.write_text("\n".join(json.dumps({"title": t, "text": b}, ensure_ascii=False) for t, b in POEMS * 8))
        data = ["--train_file", path, "--hidden_size", 32, "--num_hidden_layers", 1, "--num_attention_heads", 2]
    else:
        folder = tmp_path / "midi"
        folder.mkdir()
        for i in range(6):
            (folder / f"{i}.mid").write_bytes(make_midi(i))
        data = ["--train_data_dir", folder, "--hidden_size", 16, "--num_hidden_layers", 1, "--transpose", 0,
                "--sample_bars", 1]
    common = [*data, "--max_seq_length", 32, "--max_train_steps", 6, "--dropout", 0, "--checkpointing_steps", 100,
              "--eval_steps", 100, "--sample_steps", 100, "--seed", 3]
    launch_script(script, "--output_dir", tmp_path / "one", "--train_batch_size", 4, *common)
    log = launch_two(script, "--output_dir", tmp_path / "two", "--train_batch_size", 2, *common)
    assert "x 2 processes" in log
    one = json.loads((tmp_path / "one" / "loss_history.json").read_text())
    two = json.loads((tmp_path / "two" / "loss_history.json").read_text())
    assert len(one) == len(two) == 6
    difference = max(abs(a - b) for a, b in zip(one, two))
    print(f"{script}: max |loss(1 proc) - loss(2 procs)| = {difference:.2e}")
    assert difference < 1e-3, (one, two)


def test_the_shipped_accelerate_configs(tmp_path):
    """Each YAML in training/configs/ parses as an accelerate config; the DDP one really runs 2 processes here."""
    from accelerate.commands.config.config_args import load_config_from_file

    from tests.helpers import REPO_ROOT

    folder = REPO_ROOT / "training" / "configs"
    expected = {"single_gpu.yaml": ("NO", 1), "multi_gpu.yaml": ("MULTI_GPU", 2), "fsdp.yaml": ("FSDP", 8),
                "multi_node.yaml": ("MULTI_GPU", 16)}
    assert {p.name for p in folder.glob("*.yaml")} == set(expected)
    for name, (kind, processes) in expected.items():
        config = load_config_from_file(str(folder / name))
        assert str(config.distributed_type).split(".")[-1] == kind and config.num_processes == processes, name
    assert load_config_from_file(str(folder / "fsdp.yaml")).fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == \
        "NeuroArtPoetryBlock"
    path = tmp_path / "poems.jsonl"
    path.write_text("\n".join(json.dumps({"title": t, "text": b}, ensure_ascii=False) for t, b in POEMS * 4))
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(folder / "multi_gpu.yaml"),
           "--mixed_precision", "no", str(REPO_ROOT / "training" / "train_poetry.py"), "--train_file", str(path),
           "--output_dir", str(tmp_path / "out"), "--max_train_steps", "2", "--hidden_size", "32",
           "--num_hidden_layers", "1", "--num_attention_heads", "2", "--max_seq_length", "32",
           "--train_batch_size", "2"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, **TWO, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "x 2 processes" in result.stdout + result.stderr


def test_streaming_with_two_processes(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "part-0.jsonl").write_text("\n".join(json.dumps({"title": t, "text": b}, ensure_ascii=False)
                                                   for t, b in POEMS * 10))
    log = launch_two("train_poetry.py", "--dataset_name", folder, "--streaming", "--streaming_eval_examples", 4,
                     "--output_dir", tmp_path / "out", "--max_train_steps", 4, "--hidden_size", 32,
                     "--num_hidden_layers", 1, "--num_attention_heads", 2, "--max_seq_length", 32,
                     "--train_batch_size", 2, "--checkpointing_steps", 2)
    assert "streamed blocks of 32 tokens, batch 2 x 2 processes" in log
    assert json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]["steps"] == 4


class _FakeFSDP:
    """What `gather_full_model` asks of an Accelerator, as under FSDP: `get_state_dict` gives the gathered weights."""

    def __init__(self):
        from accelerate.utils import DistributedType

        self.distributed_type, self.is_main_process = DistributedType.FSDP, True

    def get_state_dict(self, module):
        state = module.state_dict()
        state.pop("lm_head.weight", None)  # accelerate drops a tied copy
        return state

    def unwrap_model(self, module):
        return module


def test_gather_full_model_rebuilds_the_model_from_gathered_weights():
    """Under FSDP the export is a fresh model with the gathered weights (tied ones re-tied; the GAN's EMA generator,
    never sharded, copied), not the sharded module: the same outputs as the trained model."""
    from neuroart import NeuroArtGANModel, NeuroArtPoetryForCausalLM
    from neuroart.training.hub import gather_full_model
    from tests.helpers import tiny_gan_config, tiny_poetry_config

    torch.manual_seed(0)
    poet = NeuroArtPoetryForCausalLM(tiny_poetry_config()).eval()
    full = gather_full_model(_FakeFSDP(), poet).eval()
    assert full is not poet and full.lm_head.weight.data_ptr() == full.model.embed_tokens.weight.data_ptr()
    x = torch.randint(3, 90, (2, 7))
    torch.testing.assert_close(full(x).logits, poet(x).logits)
    gan = NeuroArtGANModel(tiny_gan_config())
    with torch.no_grad():
        for param in gan.generator_ema.parameters():
            param.add_(0.5)  # an EMA that differs from the generator
    full = gather_full_model(_FakeFSDP(), gan, prepared={"generator": gan.generator,
                                                         "discriminator": gan.discriminator})
    for name, tensor in gan.state_dict().items():
        torch.testing.assert_close(full.state_dict()[name], tensor, msg=name)
