"""mcnbench: a benchmarking harness for multimodal self-supervised learning from narrated video."""

__version__ = "0.1.0"
