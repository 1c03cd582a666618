"""Records of two models on the tiny synthetic world, for the report views (plugin, not auto-loaded).

``view_results``: a results folder with ``oracle`` (the world's oracle embeddings) and ``noise``
(Gaussian embeddings of the same ids) evaluated on all four tasks with seeds 0 and 1, written by
the real runner, so every per-query array (ranks, timelines) is what the tasks save.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("conftest_tasks",)


def evaluate_as(name: str, embeddings: Path, root: Path, out: Path, seeds=(0, 1)) -> None:
    """Evaluate the ``precomputed`` model on every task, recording it under model ``name``."""
    from mcnbench.data.root import DataRoot
    from mcnbench.engine import ModelSpec, RunSpec, run

    spec = RunSpec(models=[ModelSpec("precomputed", name=name, embeddings=embeddings)],
                   tasks=["youcook2", "msrvtt", "crosstask", "mining_youtube"], seeds=list(seeds),
                   data=DataRoot(root), out=out)
    run(spec, log=lambda s: None)


@pytest.fixture(scope="session")
def view_results(tiny_world, oracle_dir, random_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("views") / "results"
    evaluate_as("oracle", oracle_dir, tiny_world, out)
    evaluate_as("noise", random_dir, tiny_world, out)
    return out
