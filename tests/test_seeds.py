"""Same seed, same art, whatever else the process is doing: a painting, a poem and a piece made in three threads at
once, repeatedly, equal the ones made one at a time. The painter and the composer's lean loop draw from
`torch.Generator`s of their own; the poet (and `generate_music(lean=False)`), which must call `generate()`, seed
torch's global stream per call under one process-wide lock."""

import threading

from tests.helpers import tiny_models


def makers():
    from neuroart.music.generation import generate_music
    from neuroart.poetry import write_poem

    models = tiny_models()
    poet, words, composer, remi, painter = (models[k] for k in ("poet", "words", "composer", "remi", "painter"))
    return {
        "poem": lambda seed: write_poem(poet, words, form="五言绝句", seed=seed, num_candidates=2).text,
        "piece": lambda seed: tuple(generate_music(composer, remi, max_new_tokens=60, seed=seed).sequence),
        "painting": lambda seed: painter.generate_images(2, seed=seed, output_type="pt").sum().item(),
    }


def test_three_models_in_three_threads_equal_the_sequential_results():
    make = makers()
    seeds = range(3)
    expected = {kind: [fn(seed) for seed in seeds] for kind, fn in make.items()}
    for _ in range(3):
        got, errors = {}, []

        def work(kind, got=got, errors=errors):
            try:
                got[kind] = [make[kind](seed) for seed in seeds]
            except Exception as error:  # noqa: BLE001  (reported below)
                errors.append(error)

        threads = [threading.Thread(target=work, args=(kind,)) for kind in make]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert got == expected


def test_every_copy_of_the_remote_code_shares_one_lock():
    from neuroart.music import generation as music
    from neuroart.poetry import generation as poetry

    assert music._RNG_LOCK is poetry._RNG_LOCK


def test_the_lean_music_loop_takes_no_lock():
    """A piece composed while another thread holds the global-stream lock (a poem being written) neither waits
    for it nor changes: the lean loop has its own generator."""
    from neuroart.music import generation as music

    make = makers()
    expected = make["piece"](4)
    held, release, got = threading.Event(), threading.Event(), []

    def hold():
        with music._RNG_LOCK:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        composer = threading.Thread(target=lambda: got.append(make["piece"](4)))
        composer.start()
        composer.join(60)
        assert not composer.is_alive() and got == [expected]
    finally:
        release.set()
        holder.join()
