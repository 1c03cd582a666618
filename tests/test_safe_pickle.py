"""The allow-list unpickler: data round-trips, anything that could run code is refused unrun."""
from __future__ import annotations

import builtins
import collections
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import write_pickle

from mcnbench.data.errors import DataError
from mcnbench.data.safe_pickle import safe_load, safe_loads


class _Touch:
    """Unpickling this would call os.system and create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Exec:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.exec, (f"open({self.marker!r}, 'w').write('x')",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_builtins_round_trip(tmp_path, protocol):
    obj = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f16": np.ones((40, 3), np.float16),
        "int": np.array([1, 2, 3], np.int64),
        "text": np.array(["crack egg", "pour"], dtype=object),
        "scalar": np.float64(2.5),
        "plain": [1, 2.0, "x", b"y", (1, None), {1, 2}, frozenset([3]), True],
        "ordered": collections.OrderedDict(a=1),
    }
    back = safe_load(write_pickle(tmp_path / "a.pkl", obj, protocol))
    for key in ("f32", "f16", "int"):
        assert back[key].dtype == obj[key].dtype and np.array_equal(back[key], obj[key])
    assert list(back["text"]) == ["crack egg", "pour"]
    assert back["scalar"] == 2.5 and back["plain"] == obj["plain"]
    assert back["ordered"] == obj["ordered"]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_torch_tensors_round_trip(tmp_path, protocol):
    t = torch.randn(40, 9)
    obj = [{"audio": t}, {"audio": t[:, 2:5]}, {"audio": torch.zeros(3, dtype=torch.float16)}]
    back = safe_load(write_pickle(tmp_path / "t.pkl", obj, protocol))
    assert torch.equal(back[0]["audio"], t)
    assert torch.equal(back[1]["audio"], t[:, 2:5]) and back[1]["audio"].shape == (40, 3)
    assert back[2]["audio"].dtype == torch.float16


@pytest.mark.parametrize("evil", [_Touch, _Exec])
def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path, evil):
    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "evil.pkl", [{"id": "x", "payload": evil(marker)}])
    with pytest.raises(DataError) as err:
        safe_load(path)
    assert "refused global" in str(err.value) and str(path) in str(err.value)
    assert "allow-list" in str(err.value)
    assert not marker.exists()


def test_hostile_payload_inside_a_torch_storage_is_refused(tmp_path):
    # torch.storage._load_from_bytes normally runs torch.load(weights_only=False) on its bytes
    marker = tmp_path / "pwned"

    class Smuggle:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (pickle.dumps(_Touch(marker)),))

    with pytest.raises(DataError, match="torch storage rejected"):
        safe_loads(pickle.dumps(Smuggle()), path="x.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["posix.system", "subprocess.Popen", "builtins.eval",
                                  "numpy.load", "torch.load", "pandas.read_pickle"])
def test_refused_globals_are_named(name):
    module, attr = name.rsplit(".", 1)
    data = b"\x80\x04c" + module.encode() + b"\n" + attr.encode() + b"\n."
    with pytest.raises(DataError, match=f"refused global '{module}.{attr}'"):
        safe_loads(data, path="f.pkl", what="captions")


def test_exotic_codec_is_refused():
    data = pickle.dumps(b"abc", protocol=2).replace(b"latin1", b"zlib__")
    with pytest.raises(DataError):
        safe_loads(data)


def test_truncated_and_missing(tmp_path):
    data = pickle.dumps({"x": np.zeros(100)})
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt pickle"):
        safe_load(path)
    with pytest.raises(DataError, match="file not found"):
        safe_load(tmp_path / "absent.pkl")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(DataError, match="truncated or corrupt"):
        safe_load(tmp_path / "empty.pkl")


def test_numpy1_module_names_are_accepted():
    # pickles written under numpy < 2 name numpy.core.*; numpy 2 writes numpy._core.*
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = pickle.dumps({"x": arr, "s": np.float64(1.5)}, protocol=2)
    assert b"numpy._core.multiarray" in data
    back = safe_loads(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    np.testing.assert_array_equal(back["x"], arr)
    assert back["s"] == 1.5
