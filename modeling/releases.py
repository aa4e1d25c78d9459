"""The trained release models: `releases/neuroart-{gan,music,poetry}/`, Hub-ready folders committed to the repository.

They are what `neuroart/neuroart-gan`, `neuroart/neuroart-music` and `neuroart/neuroart-poetry` hold on the Hub.
`install()` places them in the real Hugging Face cache layout under those repo ids (refs/main, blobs named by their
git or LFS hash, snapshots/<commit>/ as relative symlinks), so that

    AutoModel.from_pretrained("neuroart/neuroart-gan")

works offline (`HF_HUB_OFFLINE=1`, or no network at all) on a fresh clone, with `import neuroart` or with
`trust_remote_code=True`. `push()` uploads the folders as they are. The command line: `neuroart models install`,
`neuroart models list`, `neuroart models push`.

The poet's Hub repo also ships `poem_lines.txt.gz`, the lines of its training poems, so that `write_poem` and the
poetry Space can flag a line copied verbatim. Git does not hold it (5 MB that the data reproduces): `install()` and
`push()` rebuild it from the shared data's release split and check it against the digest the release recorded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .kinds import NAMES as KINDS  # noqa: E402  (the one table of kinds)
from .kinds import NAMESPACE  # noqa: E402

LFS_SUFFIXES = (".safetensors", ".bin", ".png", ".gif", ".wav", ".mid", ".gz")
LINE_INDEX = "poem_lines.txt.gz"


def repo_id(kind: str, namespace: str = NAMESPACE) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not a NeuroArt model; use one of {KINDS}.")
    return f"{namespace}/neuroart-{kind}"  # KINDS[kind].repo_id under the default namespace


RELEASES = {kind: repo_id(kind) for kind in KINDS}


def releases_dir() -> Path:
    """`$NEUROART_RELEASES_DIR`, else `releases/` of the clone this package is installed from."""
    return Path(os.environ.get("NEUROART_RELEASES_DIR") or Path(__file__).resolve().parents[1] / "releases")


def release_folder(kind: str) -> Path | None:
    """The release folder of `kind`, or None when this clone has no such release."""
    folder = releases_dir() / f"neuroart-{repo_id(kind).split('-', 1)[1]}"
    return folder if (folder / "config.json").is_file() else None


def hub_cache() -> Path:
    """The Hub cache that `from_pretrained` reads, from the environment at call time (HF_HUB_CACHE, HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def folder_commit(folder: str | os.PathLike) -> str:
    """A deterministic 40-hex revision of a folder: its file names and contents."""
    folder = Path(folder)
    digest = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def populate_hf_cache(src_dir: str | os.PathLike, repo: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Lay `src_dir` out as the `main` revision of model repo `repo` in the Hub cache; return the commit."""
    src_dir, cache = Path(src_dir), Path(cache_dir) if cache_dir else hub_cache()
    files = sorted(p for p in src_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    commit = folder_commit(src_dir)
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    for path in files:
        data = path.read_bytes()
        is_lfs = path.suffix in LFS_SUFFIXES or len(data) > 10_000_000
        blob = repo_dir / "blobs" / (hashlib.sha256(data).hexdigest() if is_lfs else _git_blob_sha1(data))
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            tmp = blob.with_suffix(".incomplete")
            tmp.write_bytes(data)
            tmp.replace(blob)
        link = repo_dir / "snapshots" / commit / path.relative_to(src_dir)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs" / "main").write_text(commit)  # last: a half-written snapshot is never `main`
    return commit


def installed_folder(kind: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cached snapshot of the release's repo id (its `main`), or None."""
    repo_dir = (Path(cache_dir) if cache_dir else hub_cache()) / ("models--" + repo_id(kind).replace("/", "--"))
    ref = repo_dir / "refs" / "main"
    if not ref.is_file():
        return None
    snapshot = repo_dir / "snapshots" / ref.read_text().strip()
    return snapshot if (snapshot / "config.json").exists() else None


def line_index_digest(path: str | os.PathLike) -> str:
    """sha256 of a line index's lines (the decompressed file: sorted, one per line), whatever gzip wrote around them."""
    import gzip

    return hashlib.sha256(gzip.decompress(Path(path).read_bytes())).hexdigest()


def build_line_index(folder: str | os.PathLike, shared_data: str | os.PathLike | None = None) -> str | None:
    """Write `folder/poem_lines.txt.gz` from the release split of the shared data (`NEUROART_SHARED_DATA`, default
    `../shared/data`): the lines of the file the release trained on last, as its `training_summary.json` names it.
    Returns None when written (or already there), else why not; never writes an index whose digest differs from the
    one the release recorded (other data would flag other lines)."""
    import json
    import tempfile

    folder = Path(folder)
    target = folder / LINE_INDEX
    summary = json.loads((folder / "training_summary.json").read_text()) if (
        folder / "training_summary.json").is_file() else {}
    expected = summary.get("line_index", {}).get("sha256")
    if target.is_file():
        if expected is None or line_index_digest(target) == expected:
            return None
        target.unlink()  # another release's lines: better no flag than wrong ones
    train_file = Path(summary.get("hyperparameters", {}).get("train_file") or "").name
    if not expected or not train_file:
        return "the release records no line index (training_summary.json: line_index, hyperparameters.train_file)"
    from neuroart.training.release_data import shared_data_dir, split_poetry

    from .poetry import LineIndex

    shared = shared_data_dir(shared_data)
    if not (shared / "poetry").is_dir():
        return f"no poetry data in {shared} (set NEUROART_SHARED_DATA)"
    with tempfile.TemporaryDirectory() as tmp:
        split_poetry(shared, Path(tmp))
        source = Path(tmp) / "poetry" / train_file
        if not source.is_file():
            return f"the release split has no {train_file}"
        with open(source, encoding="utf-8") as handle:
            index = LineIndex.from_poems(json.loads(line)["text"] for line in handle if line.strip())
    partial = target.with_name(LINE_INDEX + ".incomplete")
    index.save(partial)
    if line_index_digest(partial) != expected:
        partial.unlink()
        return f"the poems in {shared / 'poetry'} differ from the ones the release trained on"
    partial.replace(target)  # atomic: a reader never sees half an index
    return None


def install(kinds=KINDS, cache_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Install the releases of this clone into the Hub cache; returns {repo id: commit}. Idempotent: a snapshot
    already cached for the same folder contents is reused. The poet's line index is rebuilt first where the shared
    data allows (without it the poet loads and writes as ever, without the copied-line flag)."""
    done = {}
    for kind in kinds:
        folder = release_folder(kind)
        if folder is None:
            continue
        if kind == "poetry" and (why := build_line_index(folder)):
            import warnings

            warnings.warn(f"{repo_id(kind)}: installed without {LINE_INDEX}, so copied lines go unflagged: {why}.",
                          stacklevel=2)
        done[repo_id(kind)] = populate_hf_cache(folder, repo_id(kind), cache_dir)
    return done


def default_model(kind: str) -> str:
    """What a tool loads when the user names no model: the release's cached snapshot (installed from this clone
    first if needed), else the repo id (downloaded from the Hub when online)."""
    folder = installed_folder(kind)
    if folder is None and release_folder(kind) is not None:
        install([kind])
        folder = installed_folder(kind)
    return str(folder) if folder is not None else repo_id(kind)


def push(kinds=KINDS, namespace: str = NAMESPACE, token: str | None = None, private: bool = False) -> dict:
    """Upload each release folder as it is (one commit per repo) to `<namespace>/neuroart-<kind>`."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    pushed = {}
    for kind in kinds:
        folder = release_folder(kind)
        if folder is None:
            continue
        if kind == "poetry" and (why := build_line_index(folder)):  # the Hub's poet always has its copy check
            raise FileNotFoundError(f"{repo_id(kind)} needs {LINE_INDEX} beside its weights, and {why}.")
        repo = api.create_repo(repo_id(kind, namespace), private=private, exist_ok=True).repo_id
        info = api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="NeuroArt release",
                                 ignore_patterns=["__pycache__/*", "*.pyc"])
        pushed[repo] = getattr(info, "oid", None) or str(info)
    return pushed


__all__ = ["KINDS", "LINE_INDEX", "RELEASES", "build_line_index", "default_model", "folder_commit", "hub_cache",
           "install", "installed_folder", "line_index_digest", "populate_hf_cache", "push", "release_folder",
           "releases_dir", "repo_id"]
