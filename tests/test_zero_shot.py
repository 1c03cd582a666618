"""Zero-shot action recognition: Top-K with tie rules (a 4-class worked example), class-name
texts as the official loaders make them, the MCN pickle loader, and the ucf101/hmdb51 tasks."""
from __future__ import annotations

import numpy as np
import pytest

from mcnbench.data.action_recognition import hmdb_class_text, load_action_pickle, ucf_class_text
from mcnbench.data.errors import DataError
from mcnbench.metrics.zero_shot import topk_accuracy, topk_hits

# 5 videos, 4 classes. v0, v3: clear hits; v1: true class third; v2: true class tied with two
# others at the top; v4: true class (0) tied with class 1 at the top.
SCORES = np.array([[0.9, 0.1, 0.2, 0.3],
                   [0.5, 0.4, 0.6, 0.1],
                   [0.3, 0.3, 0.3, 0.0],
                   [0.1, 0.2, 0.3, 0.4],
                   [0.7, 0.7, 0.1, 0.2]])
LABELS = np.array([0, 1, 2, 3, 0])
# (Top-1, Top-2) hits by hand. mean: v2 rank 1, v4 rank 0.5 (miss Top-1, hit Top-2); optimistic:
# ties go to the true class; pessimistic: v2 rank 2 misses Top-2; legacy: argmax takes the first
# maximum (v4's class 0 hits, v2's class 2 does not), the stable argsort's 2 last entries take
# the later classes (v2: [1, 2] hits, v4: [0, 1] hits).
EXPECTED = {"mean": (2, 4), "optimistic": (4, 4), "pessimistic": (2, 3), "legacy": (3, 4)}


@pytest.mark.parametrize("rule", list(EXPECTED))
def test_four_class_worked_example(rule):
    acc = topk_accuracy(SCORES, LABELS, ks=(1, 2), tie_rule=rule)
    top1, top2 = EXPECTED[rule]
    assert acc == pytest.approx({"top1": 100 * top1 / 5, "top2": 100 * top2 / 5})
    hits = topk_hits(SCORES, LABELS, ks=(1, 2), tie_rule=rule)
    assert hits.shape == (5, 2) and hits[0].all() and not hits[1, 0]


def test_topk_checks_its_input():
    with pytest.raises(ValueError, match="labels must lie"):
        topk_hits(SCORES, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="int labels"):
        topk_hits(SCORES, LABELS.astype(float))


@pytest.mark.parametrize("name, text", [("ApplyEyeMakeup", "apply eye makeup"),
                                        ("YoYo", "yo yo"), ("PlayingDaf", "playing daf"),
                                        ("Basketball", "basketball"),
                                        ("jumpingJack", "jumping jack")])  # prefix kept
def test_ucf_class_text(name, text):
    assert ucf_class_text(name) == text


@pytest.mark.parametrize("name, text", [("brush_hair", "brush hair"), ("claping", "clapping"),
                                        ("ride_bike", "ride bike"), ("wave", "wave")])
def test_hmdb_class_text(name, text):
    assert hmdb_class_text(name) == text


# ----------------------------------------------------------------------------- the loader

def action_items(dataset: str, classes=("ApplyEyeMakeup", "Basketball", "CrackEgg", "PourWater"),
                 per_class: int = 2, dh: int = 4, seed: int = 0) -> list[dict]:
    """MCN-format video dicts (as gen_loader.py writes them) with random features."""
    rng = np.random.default_rng(seed)
    items = []
    for ci, cls in enumerate(classes):
        for j in range(per_class):
            f2d = rng.random((5 + j, dh)).astype(np.float32)
            f3d = rng.random((7 + j, dh)).astype(np.float32)
            it = {"2d": f2d, "3d": f3d, "2d_pooled": f2d.mean(0), "3d_pooled": f3d.mean(0),
                  "class": cls, "video": f"v_{cls}_g{j + 1:02d}_c01_", "training": j % 2}
            if dataset == "ucf101":
                has = (ci + j) % 2
                it["audio"] = (-80 * rng.random((40, 30))).astype(np.float32) if has else \
                    np.zeros((40, 1), np.float32)
                it["has_audio"] = has
            items.append(it)
    return items


def test_loader_reads_the_official_format(tmp_path):
    from conftest import write_pickle

    items = action_items("ucf101")
    path = write_pickle(tmp_path / "UCF101_data.pkl", items[::-1])
    data = load_action_pickle(path, "ucf101")
    assert data.classes == ["ApplyEyeMakeup", "Basketball", "CrackEgg", "PourWater"]
    assert data.class_texts[0] == "apply eye makeup"
    assert len(data) == 8 and data.video.shape == (8, 8)
    np.testing.assert_allclose(np.linalg.norm(data.video[:, :4], axis=1), 1.0, rtol=1e-6)
    assert data.labels[0] == 3  # reversed: the first item is PourWater's
    assert data.has_audio.sum() == 4 and data.info["training_counts"] == {"0": 4, "1": 4}
    maxed = load_action_pickle(path, "ucf101", pooling="max")
    top = items[-1]["2d"].max(0)
    np.testing.assert_allclose(maxed.video[0, :4], top / np.linalg.norm(top), rtol=1e-6)


@pytest.mark.parametrize("change, match", [
    (lambda it: it.pop("has_audio"), r"missing key\(s\) \['has_audio'\]"),
    (lambda it: it.update(training=3), r"key 'training': expected one of \[0, 1\]"),
    (lambda it: it.update({"2d_pooled": np.zeros(5, np.float32)}), "width 5, expected 4"),
    (lambda it: it.update({"3d": np.full((3, 4), np.nan, np.float32)}), "non-finite"),
    (lambda it: it.update({"class": ""}), "expected a class name"),
    (lambda it: it.update(audio=np.zeros((20, 4))), "expected size 40 on axis 0"),
])
def test_loader_names_file_item_and_problem(tmp_path, change, match):
    from conftest import write_pickle

    items = action_items("ucf101")
    change(items[3])
    path = write_pickle(tmp_path / "UCF101_data.pkl", items)
    with pytest.raises(DataError, match=match) as err:
        load_action_pickle(path, "ucf101")
    assert str(path) in str(err.value) and "item 3 (video 'v_Basketball_g02_c01_')" in str(err.value)


def test_loader_whole_file_problems(tmp_path):
    from conftest import write_pickle

    items = action_items("hmdb51", classes=("ride_bike", "ride bike"))
    with pytest.raises(DataError, match="give the same class text 'ride bike'"):
        load_action_pickle(write_pickle(tmp_path / "a.pkl", items), "hmdb51")
    items = action_items("hmdb51")
    items[1]["video"] = items[0]["video"]
    with pytest.raises(DataError, match="duplicate video"):
        load_action_pickle(write_pickle(tmp_path / "b.pkl", items), "hmdb51")
    with pytest.raises(DataError, match="expected a list"):
        load_action_pickle(write_pickle(tmp_path / "c.pkl", {"a": 1}), "hmdb51")
    items = action_items("hmdb51")
    items[0]["2d_pooled"] = items[0]["2d"].max(0)  # max-pooled: accepted, with a warning
    with pytest.warns(UserWarning, match="1 pooled features are not the mean"):
        data = load_action_pickle(write_pickle(tmp_path / "d.pkl", items), "hmdb51")
    assert data.info["pooled_not_mean"] == 1 and data.audio is None


# ----------------------------------------------------------------------------- the tasks

def _root(tmp_path, dataset: str):
    """A data root with the 4-class pickle and precomputed embeddings in which video n of
    class c scores SCORES-like: class texts e_c, video embeddings chosen per video."""
    from conftest import write_pickle

    from mcnbench.zoo.precomputed import PrecomputedModel, write_embeddings

    items = action_items(dataset, per_class=1)
    rel = "ucf101/UCF101_data.pkl" if dataset == "ucf101" else "hmdb51/HMDB_data.pkl"
    write_pickle(tmp_path / rel, items)
    # video n of class n: video scores row n of SCORES[:4]; audio adds +1 to class 3
    video = SCORES[[0, 1, 2, 3]].astype(np.float32)
    audio = np.tile(np.array([0, 0, 0, 1], np.float32), (4, 1))
    write_embeddings(tmp_path / "emb", dataset, clip_ids=[it["video"] for it in items],
                     video=video, audio=audio,
                     text_ids=[f"class:{it['class']}" for it in items], text=np.eye(4))
    return tmp_path, PrecomputedModel(tmp_path / "emb")


@pytest.mark.parametrize("dataset", ["ucf101", "hmdb51"])
def test_task_scores_class_text_against_video(tmp_path, dataset):
    from mcnbench.registry import get_task

    root, model = _root(tmp_path, dataset)
    task = get_task(dataset).obj()
    res = task.evaluate(model, root)
    # labels 0..3 (sorted classes); rows 0-3 of SCORES: v0 and v3 hit, v1 third, v2 tied
    assert res.metrics["top1"] == pytest.approx(50.0) and res.metrics["top5"] == 100.0
    np.testing.assert_array_equal(res.per_query["ranks"], [0, 2, 1, 0])
    assert res.info["fusion_used"] == "video" and res.info["n_classes"] == 4
    assert task.main_score == "top1" and set(task.paper) == {"top1", "top5"}


def test_ucf_audio_option_skips_videos_without_audio(tmp_path):
    from mcnbench.registry import get_task

    root, model = _root(tmp_path, "ucf101")
    res = get_task("ucf101").obj().evaluate(model, root, fusion="video+audio")
    # has_audio = (class index + 0) % 2: videos 1 and 3 get +1 on class 3. v1's true class 1
    # then drops behind 2 and 3; v3 stays first.
    np.testing.assert_array_equal(res.per_query["ranks"], [0, 3, 1, 0])
    assert res.info["videos_with_audio"] == 2
    with pytest.raises(ValueError, match="is not one of"):
        get_task("hmdb51").obj().options(fusion="video+audio")  # HMDB has no audio


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.getcwd, ())


def test_loader_reads_through_the_safe_unpickler(tmp_path):
    import pickle

    path = tmp_path / "UCF101_data.pkl"
    with pytest.raises(DataError, match="file not found"):
        load_action_pickle(path, "ucf101")
    path.write_bytes(pickle.dumps([_RunsCode()]))
    with pytest.raises(DataError, match="refused global 'posix.getcwd'|refused global 'os.getcwd'"):
        load_action_pickle(path, "ucf101")
