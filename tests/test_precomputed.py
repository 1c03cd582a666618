"""The ``precomputed`` model: the contract layout, id lookup, and the errors a person sees."""
from __future__ import annotations

import numpy as np
import pytest

from mcnbench.data.batch import Batch
from mcnbench.data.errors import DataError
from mcnbench.registry import get_model
from mcnbench.zoo.context import ModelContext
from mcnbench.zoo.precomputed import PrecomputedModel, precomputed, write_embeddings


@pytest.fixture
def emb_dir(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"clip{i}" for i in range(6)]
    write_embeddings(tmp_path / "emb", "youcook2", clip_ids=ids,
                     video=rng.normal(size=(6, 4)), audio=rng.normal(size=(6, 4)),
                     text_ids=ids, text=rng.normal(size=(6, 4)))
    return tmp_path / "emb"


def _clips(ids, task="youcook2"):
    n = len(ids)
    return Batch(ids=ids, task=task, video=np.zeros((n, 8), np.float32),
                 audio=np.zeros((n, 40, 5), np.float32), nframes=np.full(n, 5))


def test_registered_and_looks_up_rows_by_id(emb_dir):
    assert get_model("precomputed").obj is precomputed
    model = precomputed(ModelContext(emb_dir, embeddings=emb_dir))
    with np.load(emb_dir / "youcook2" / "clips.npz") as f:
        video, audio = f["video"], f["audio"]
    out = model.embed(_clips(["clip3", "clip0"]))
    assert set(out) == {"video", "audio"}
    np.testing.assert_array_equal(out["video"], video[[3, 0]])
    np.testing.assert_array_equal(out["audio"], audio[[3, 0]])
    text = model.embed(Batch(ids=["clip5"], task="youcook2", text=["anything"]))
    assert set(text) == {"text"} and text["text"].shape == (1, 4)
    assert text["text"].dtype == np.float32


def test_config_changes_with_content(emb_dir):
    before = PrecomputedModel(emb_dir).config
    assert before["files"].keys() == {"youcook2/clips.npz", "youcook2/text.npz"}
    write_embeddings(emb_dir, "youcook2", text_ids=["a"], text=np.ones((1, 4)))
    assert PrecomputedModel(emb_dir).config != before


def test_missing_ids_are_listed(emb_dir):
    model = PrecomputedModel(emb_dir)
    with pytest.raises(DataError) as err:
        model.embed(_clips(["clip1", "nope", "gone"]))
    msg = str(err.value)
    assert "clips.npz" in msg and "2 of 3" in msg and "'nope'" in msg and "'gone'" in msg


def test_many_missing_ids_are_summarised(emb_dir):
    ids = [f"x{i}" for i in range(25)]
    with pytest.raises(DataError, match="and 15 more"):
        PrecomputedModel(emb_dir).embed(_clips(ids))


def test_missing_task_folder_names_the_file(emb_dir):
    with pytest.raises(DataError, match=r"msrvtt.clips\.npz: file not found"):
        PrecomputedModel(emb_dir).embed(_clips(["a"], task="msrvtt"))


def test_needs_embeddings_folder(tmp_path):
    with pytest.raises(DataError, match="--embeddings"):
        precomputed(ModelContext(tmp_path))
    with pytest.raises(DataError, match="not found"):
        precomputed(ModelContext(tmp_path, embeddings=tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no <task>/clips.npz"):
        precomputed(ModelContext(tmp_path, embeddings=tmp_path / "empty"))


def test_bad_files(tmp_path):
    folder = tmp_path / "e" / "t"
    folder.mkdir(parents=True)
    np.savez(folder / "clips.npz", ids=np.array(["a", "a"]), video=np.zeros((2, 3)))
    with pytest.raises(DataError, match="duplicate id"):
        PrecomputedModel(tmp_path / "e").embed(_clips(["a"], task="t"))
    np.savez(folder / "clips.npz", ids=np.array(["a", "b"]), video=np.zeros((3, 3)))
    with pytest.raises(DataError, match=r"video: expected a float \[2, D\]"):
        PrecomputedModel(tmp_path / "e").embed(_clips(["a"], task="t"))
    np.savez(folder / "clips.npz", ids=np.array(["a", "b"]), video=np.array([[0.0], [np.nan]]))
    with pytest.raises(DataError, match="video row 1 .id 'b'.: not finite"):
        PrecomputedModel(tmp_path / "e").embed(_clips(["a"], task="t"))
    np.savez(folder / "clips.npz", ids=np.array(["a"]), other=np.zeros((1, 3)))
    with pytest.raises(DataError, match="has none of the arrays"):
        PrecomputedModel(tmp_path / "e").embed(_clips(["a"], task="t"))
