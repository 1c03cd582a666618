"""Saving and loading MCN weights (ours and the released ``eN.pth`` files).

* :func:`save_checkpoint` writes atomically (temporary file beside the target, fsync, rename).
* :func:`load_state_dict_file` reads with ``torch.load(weights_only=True)`` (no arbitrary
  unpickling), accepts a bare state_dict or one wrapped under ``state_dict``/``model``/``net``
  (the official ``amp_checkpoint.pt`` uses ``net``), and strips the ``module.`` prefix that
  DataParallel/DDP add.
* :func:`config_from_state_dict` reads the architecture from the tensor shapes, so loading needs
  no flags to match (the official loader silently ignores missing keys and crashes on shapes).
* :func:`load_mcn` builds the network and loads strictly; any disagreement raises one
  :class:`CheckpointError` listing every missing, unexpected and mis-shaped key.
"""
from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..data.errors import DataError
from ..utils.io import atomic_write
from .mcn import MCNConfig, MCNNet

__all__ = ["CheckpointError", "save_checkpoint", "load_state_dict_file", "config_from_state_dict",
           "load_mcn", "compare_state_dicts"]

WRAPPER_KEYS = ("state_dict", "model", "net")
_PREVIEW = 20  # keys listed per category in an error message


class CheckpointError(DataError):
    """A checkpoint file that cannot be read or does not fit the network.

    ``missing``, ``unexpected`` and ``mismatched`` (``(key, file_shape, model_shape)``) hold the
    full lists; the message shows the first few of each.
    """

    def __init__(self, path: str | Path | None, problem: str, *, missing: Iterable[str] = (),
                 unexpected: Iterable[str] = (),
                 mismatched: Iterable[tuple[str, tuple, tuple]] = ()):
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)
        super().__init__(path, None, problem + _describe(self.missing, self.unexpected,
                                                         self.mismatched))


def _describe(missing: list[str], unexpected: list[str], mismatched: list[tuple]) -> str:
    parts = []
    for name, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f" (+{len(keys) - _PREVIEW} more)" if len(keys) > _PREVIEW else ""
            parts.append(f"{len(keys)} {name} keys: {', '.join(keys[:_PREVIEW])}{more}")
    if mismatched:
        shown = ", ".join(f"{k} file {list(a)} vs model {list(b)}" for k, a, b in mismatched[:_PREVIEW])
        more = f" (+{len(mismatched) - _PREVIEW} more)" if len(mismatched) > _PREVIEW else ""
        parts.append(f"{len(mismatched)} mis-shaped keys: {shown}{more}")
    return ("; " + "; ".join(parts)) if parts else ""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, nested dicts/lists) atomically with torch.save."""
    return atomic_write(path, lambda f: torch.save(state, f))


def load_state_dict_file(path: str | Path, map_location: str | torch.device = "cpu"
                         ) -> dict[str, torch.Tensor]:
    """Read a state_dict (see the module docstring for the accepted layouts)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "not a readable checkpoint: empty file")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not ours to print
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError,
            IndexError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise CheckpointError(path, "not a readable checkpoint: " + _load_failure(err)) from None
    if not isinstance(obj, dict):
        raise CheckpointError(path, f"expected a dict of tensors, got {type(obj).__name__}")
    if not _is_tensor_dict(obj):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict) and _is_tensor_dict(obj[key]):
                obj = obj[key]
                break
        else:
            raise CheckpointError(path, "no state_dict found: expected a dict of tensors or one "
                                        f"under {'/'.join(WRAPPER_KEYS)}; top-level keys "
                                        f"{sorted(map(str, obj))[:10]}")
    return {re.sub(r"^module\.", "", k): v for k, v in obj.items()}


def _load_failure(err: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without torch's advice to retry
    with ``weights_only=False`` (which runs whatever code the file holds)."""
    text = str(err).strip()
    if "Weights only load failed" not in text:
        first = text.splitlines()[0].split(". ")[0] if text else type(err).__name__
        return f"not a file written by torch.save ({first[:200]})"
    detail = text.split("WeightsUnpickler error:", 1)[-1].strip()
    found = re.search(r"GLOBAL (\S+) was not an allowed global", detail)
    if found:
        return (f"it holds a {found.group(1)} object, and checkpoints are read as tensors, "
                "numbers, strings and containers of them only (nothing in the file is run)")
    first = detail.splitlines()[0].strip() if detail else ""
    return (f"not a file of tensors written by torch.save (the weights-only reader stopped at: "
            f"{first[:200] or 'an unsupported pickle instruction'})")


def _is_tensor_dict(d: dict) -> bool:
    return bool(d) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in d.items())


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> MCNConfig:
    """The :class:`MCNConfig` whose network has these shapes (raises ``KeyError`` if not MCN)."""
    video_fc = sd["GU_video.fc.weight"]  # [D, video_dim]
    stages = sorted({int(m.group(1)) for k in sd if (m := re.match(r"DAVEnet\.layer(\d+)\.0\.", k))})
    if not stages:
        raise KeyError("DAVEnet.layer1.0.conv1.weight")
    widths = tuple(int(sd[f"DAVEnet.layer{i}.0.conv1.weight"].shape[0]) for i in stages)
    recon = "recon_v.0.weight" in sd
    return MCNConfig(
        embd_dim=int(video_fc.shape[0]),
        video_dim=int(video_fc.shape[1]),
        we_dim=int(sd["text_pooling_caption.fc.weight"].shape[1]),
        audio_bands=int(sd["DAVEnet.conv1.weight"].shape[2]),
        davenet_widths=widths,
        audio_gate_dim=int(sd["GU_audio.fc.weight"].shape[0]),
        recon=recon,
        recon_size=int(sd["recon_v.0.weight"].shape[0]) if recon else MCNConfig.recon_size,
    )


def compare_state_dicts(found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
                        ) -> tuple[list[str], list[str], list[tuple[str, tuple, tuple]]]:
    """``(missing, unexpected, mismatched)`` keys of ``found`` relative to ``expected``."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    mismatched = [(k, tuple(found[k].shape), tuple(expected[k].shape))
                  for k in expected if k in found and found[k].shape != expected[k].shape]
    return missing, unexpected, mismatched


def load_mcn(path: str | Path, config: MCNConfig | None = None, *,
             map_location: str | torch.device = "cpu", davenet_impl: str = "auto") -> MCNNet:
    """Build an :class:`MCNNet` from a checkpoint file and return it in ``eval()`` mode.

    The architecture is read from the shapes unless ``config`` is given. Any key that is
    missing, unexpected or mis-shaped raises one :class:`CheckpointError` listing them all.
    """
    sd = load_state_dict_file(path, map_location)
    if config is None:
        try:
            config = config_from_state_dict(sd)
        except (KeyError, ValueError, IndexError):
            # Not recognisably MCN: compare against the released architecture so the error
            # still lists what is missing and what is extra.
            config = MCNConfig()
    # Build on the meta device: shapes for the comparison, and no random init that the
    # checkpoint would overwrite anyway (224 M parameters at the paper config).
    with torch.device("meta"):
        net = MCNNet(config, davenet_impl=davenet_impl)
    missing, unexpected, mismatched = compare_state_dicts(sd, net.state_dict())
    if missing or unexpected or mismatched:
        raise CheckpointError(path, f"does not match an MCN network {config.to_dict()}",
                              missing=missing, unexpected=unexpected, mismatched=mismatched)
    net = net.to_empty(device=map_location)
    net.load_state_dict(sd, strict=True)  # every parameter and buffer: nothing stays empty
    return net.eval()
