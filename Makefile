# NeuroArt developer commands. `make test` sets up .venv (CPU torch pinned for these machines) and runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages behind the embedded defaults (Tang poems) and audio (FluidSynth + GM soundfont).
DEMO_PACKAGES := fortunes-zh fluidsynth fluid-soundfont-gm
# One thread and passive OpenMP waits: on 2-vCPU machines spin-waiting makes small torch ops up to 60x slower.
TEST_ENV := OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

.PHONY: install models test test-fast lint demo release-gan release-music release-poetry release-gpu

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.*"
	$(BIN)/pip install -q -e ".[train,poetry,spaces,eval,dev]"
	touch $@

# The release models of releases/ go into the Hugging Face cache as neuroart/neuroart-{gan,music,poetry}.
install: $(BIN)/.installed
	$(BIN)/neuroart models install

test: install
	$(TEST_ENV) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The quick loop: everything but the end-to-end subprocess tests marked @pytest.mark.slow.
test-fast: install
	$(TEST_ENV) $(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check modeling training tests spaces benchmarks

# The main job: install (the release models included), fetch FluidSynth and a soundfont where possible, write one
# sample of each kind from the releases into ./neuroart-models/samples, then open the studio Space on them.
# `neuroart quickstart --train` retrains small models on the embedded defaults instead (about 15 minutes).
demo: install
	-command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && { apt-get install -y -q $(DEMO_PACKAGES) >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(DEMO_PACKAGES) >/dev/null 2>&1; } \
	  || echo "note: could not install $(DEMO_PACKAGES); the demo runs without FluidSynth (numpy synthesiser)"; } || true
	$(BIN)/neuroart quickstart --output_dir neuroart-models

# Release recipes: split ../shared/data, train with the release settings, export to releases/, measure, write the card.
release-gan release-music release-poetry: install
	$(BIN)/python -m neuroart.training.release $(@:release-%=%)

# The GPU-scale release of one kind (KIND=poetry|gan|music) on one CUDA device, in 9 minutes of wall time, packed into
# outputs/gpu-release/pack for the trip back (docs/gpu.md). Runs without the venv on a machine that has only torch,
# transformers and accelerate (the GPU machine: `bash .gpu/run.sh`). DRY_RUN=1: the same recipe at toy scale here.
KIND ?= poetry
release-gpu:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m neuroart.training.release $(KIND) --gpu $(if $(DRY_RUN),--dry_run,)
