"""Generate a synthetic data root, or fetch the cached one.

``generate`` builds the world into a hidden staging folder beside ``out`` and renames it into
place only when every file and the manifest are written, so a reader never sees half a world and
an interrupted run leaves nothing behind.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from mcnbench.data.synth.action import write_hmdb51, write_ucf101
from mcnbench.data.synth.blas import BLAS_KERNEL, BLAS_THREADS, can_run_pinned, run_pinned
from mcnbench.data.synth.common import Oracle, rng_for
from mcnbench.data.synth.corpus import write_corpus
from mcnbench.data.synth.localization import write_crosstask, write_mining_youtube
from mcnbench.data.synth.presets import GENERATOR_VERSION, Knobs, make_knobs, model_hints
from mcnbench.data.synth.retrieval import write_msrvtt, write_youcook2
from mcnbench.data.synth.sink import Sink
from mcnbench.data.synth.world import World, build_world
from mcnbench.utils.io import stable_hash

MANIFEST = "manifest.json"


def _write_truth(sink: Sink, world: World) -> None:
    """The latent truth, for tests and analyses (not read by any task)."""
    msr = set(world.msrvtt_pool.tolist())
    sink.csv("oracle/concepts.csv",
             [[c, world.name(c), world.verbs[v][0], world.objects[o][0], world.objects[o][1],
               int(world.in_corpus[c]), int(c in msr)]
              for c, (v, o) in enumerate(world.concepts)],
             header=["concept", "name", "verb", "object", "domain", "in_corpus", "in_msrvtt"])
    sink.csv("oracle/tasks.csv",
             [[t.index, t.title, t.domain, ";".join(str(c) for c in t.steps)] for t in world.tasks],
             header=["task", "title", "domain", "concepts"])
    sink.npz("oracle/world.npz", z=world.z.astype(np.float32),
             z_background=world.z_background.astype(np.float32), concepts=world.concepts)


PINNED = ".blas.json"  # beside the manifest, not in it: the kernel and threads a world was written with


def _build_pinned(root: Path, knobs: Knobs, preset: str, seed: int) -> None:
    """:func:`_build` under the BLAS pin (:mod:`mcnbench.data.synth.blas`), and the note of it."""
    kernel = run_pinned(_build, root, knobs, preset, seed)
    (root / PINNED).write_text(json.dumps({"kernel": kernel, "threads": BLAS_THREADS}) + "\n")


def _written_pinned(root: Path) -> bool:
    try:
        return json.loads((root / PINNED).read_text()) == {"kernel": BLAS_KERNEL,
                                                             "threads": BLAS_THREADS}
    except (OSError, ValueError):
        return False


def _build(root: Path, knobs: Knobs, preset: str, seed: int) -> dict:
    from mcnbench.data.word2vec import write_word2vec

    sink = Sink(root)
    world = build_world(rng_for(seed, "world"), knobs)
    write_word2vec(root / "word2vec.bin", world.words, world.word_vectors)
    sink.record("word2vec.bin")
    taken: set[str] = set()  # YouTube ids are unique across the whole root
    oracle = Oracle()
    counts = {
        "howto100m": write_corpus(sink, world, rng_for(seed, "howto100m"), taken),
        "youcook2": write_youcook2(sink, world, rng_for(seed, "youcook2"), taken, oracle),
        "msrvtt": write_msrvtt(sink, world, rng_for(seed, "msrvtt"), oracle),
        "crosstask": write_crosstask(sink, world, rng_for(seed, "crosstask"), taken, oracle),
        "mining_youtube": write_mining_youtube(sink, world, rng_for(seed, "mining_youtube"),
                                               taken, oracle),
        "ucf101": write_ucf101(sink, world, rng_for(seed, "ucf101"), oracle),
        "hmdb51": write_hmdb51(sink, world, rng_for(seed, "hmdb51"), oracle),
    }
    _write_truth(sink, world)
    oracle_counts = oracle.write(sink)
    manifest = {
        "format": "mcnbench synthetic data root",
        "generator": "mcnbench.data.synth",
        "generator_version": GENERATOR_VERSION,
        "preset": preset,
        "seed": int(seed),
        "knobs": dataclasses.asdict(knobs),
        "video_half_dim": knobs.video_half_dim,
        "we_dim": knobs.we_dim,
        "latent_dim": knobs.latent_dim,
        "model_hints": model_hints(preset),
        "counts": {**counts, "words": len(world.words), "concepts": len(world.concepts),
                   "corpus_concepts": world.n_main, "tasks": len(world.tasks)},
        "oracle": {"embedding": "z / |z| of the latent (identity projection)",
                   "dim": knobs.latent_dim, "tasks": oracle_counts},
        "files": dict(sorted(sink.files.items())),
        "total_bytes": sink.bytes,
    }
    manifest["fingerprint"] = stable_hash(manifest["files"], length=64)
    # written last: a root with a manifest is complete
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def generate(out: str | Path, preset: str = "default", seed: int = 0, *, overwrite: bool = False,
             **knob_overrides) -> Path:
    """Write a complete synthetic data root to ``out`` and return its path.

    ``knob_overrides`` change single knobs of the preset (see
    :class:`mcnbench.data.synth.presets.Knobs`). An existing non-empty ``out`` is replaced only
    with ``overwrite=True``. Same preset, seed and knobs give byte-identical files on every
    x86-64 machine with AVX2, whatever its cores or ``OMP_NUM_THREADS``: the BLAS threads and
    kernel are pinned (:mod:`mcnbench.data.synth.blas`).
    """
    knobs = make_knobs(preset, **knob_overrides)
    out = Path(out).expanduser().absolute()
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty (pass overwrite=True / --force)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _build_pinned(staging, knobs, preset, seed)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _swap_in(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``, replacing whatever is there."""
    os.chmod(staging, 0o755)  # mkdtemp made it private
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / out.name)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """Where cached worlds live: ``<cache_dir or $MCNBENCH_CACHE or ~/.cache/mcnbench>/worlds``."""
    from mcnbench.utils.paths import cache_dir as default_cache

    return (Path(cache_dir).expanduser() if cache_dir else default_cache()) / "worlds"


def world_name(preset: str, seed: int) -> str:
    return f"{preset}-seed{seed}-v{GENERATOR_VERSION}"


def ensure_world(preset: str = "default", seed: int = 0, cache_dir: str | Path | None = None
                 ) -> Path:
    """The cached world for ``preset`` and ``seed``, generated on first use.

    Generation goes to a staging folder beside the cache entry and is renamed into place, so
    concurrent callers either see a complete world or generate their own copy; the first rename
    wins and the others discard theirs. A cached world written without the BLAS pin (before it
    existed, on a CPU with another OpenBLAS kernel) is written again where the pin can run.
    """
    path = cache_root(cache_dir) / world_name(preset, seed)
    if (path / MANIFEST).is_file():
        if _written_pinned(path) or not can_run_pinned():
            return path
        print(f"mcnbench: {path} was written without the BLAS pin (its bytes may differ from the "
              "committed worlds'); writing it again ...", file=sys.stderr, flush=True)
        return _rewrite_cached(path, preset, seed)
    if path.exists():
        from mcnbench.data.errors import DataError

        raise DataError(path, None, "cached world has no manifest.json (incomplete or damaged); "
                        "delete the folder to regenerate it")
    print(f"mcnbench: generating the {preset} synthetic world (seed {seed}) in {path} ...",
          file=sys.stderr, flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        _build_pinned(staging, make_knobs(preset), preset, seed)
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, path)
        except OSError:
            if not (path / MANIFEST).is_file():  # not a lost race: a real error
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _rewrite_cached(path: Path, preset: str, seed: int) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        _build_pinned(staging, make_knobs(preset), preset, seed)
        _swap_in(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path
