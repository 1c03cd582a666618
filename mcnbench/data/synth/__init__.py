"""The synthetic multimodal world: a complete data root in the real datasets' file formats.

    from mcnbench.data.synth import generate, ensure_world, check_root
    root = generate("/tmp/world", preset="tiny", seed=0)      # -> Path
    root = ensure_world("default", seed=0)                    # cached under ~/.cache/mcnbench
    report = check_root(root)                                 # loaders + checksums

See docs/synthetic.md for the generative model and every knob.
"""
from mcnbench.data.synth.builder import cache_root, ensure_world, generate, world_name
from mcnbench.data.synth.check import CheckReport, check_root
from mcnbench.data.synth.presets import GENERATOR_VERSION, PRESETS, Knobs, make_knobs, model_hints

__all__ = ["GENERATOR_VERSION", "PRESETS", "CheckReport", "Knobs", "cache_root", "check_root",
           "ensure_world", "generate", "make_knobs", "model_hints", "world_name"]
