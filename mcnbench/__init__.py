"""mcnbench: a benchmarking harness for multimodal self-supervised learning from narrated video.

    import mcnbench
    df = mcnbench.evaluate(my_model, tasks="youcook2,msrvtt")   # one row per (run, task, seed)

``evaluate`` is imported on first use, so that ``import mcnbench`` (and ``mcnbench --help``)
stays instant.
"""

__version__ = "0.2.0"
__all__ = ["__version__", "evaluate"]


def __getattr__(name: str):
    if name == "evaluate":
        from mcnbench.engine.api import evaluate

        return evaluate
    raise AttributeError(f"module 'mcnbench' has no attribute {name!r}")
