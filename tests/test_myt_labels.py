"""Mining YouTube label normalisation: the rules on worked examples, the packaged table, and the
mapping of the real annotations (../shared/data/real beside the repository; those tests skip
when it is absent)."""
from __future__ import annotations

import itertools
import tarfile

import numpy as np
import pytest

from mcnbench.data import mining_youtube as myt
from mcnbench.data.errors import DataError

CLASSES = ["crack_egg", "pour_egg", "use_spatula", "add_topp", "add_top", "add_tomato", "stir_egg",
           "scramble_egg", "saute_it", "pres_it", "add_asparagu", "beat_it", "background"]


@pytest.mark.parametrize("word, forms", [
    ("egg", ["egg"]),
    ("eggs", ["eggs", "egg"]),
    ("tomatoes", ["tomatoes", "tomatoe", "tomato"]),
    ("berries", ["berries", "berrie", "berri", "berry"]),
    ("using", ["using", "us", "use"]),
    ("stirring", ["stirring", "stirr", "stirre", "stir"]),
    ("toppings", ["toppings", "topping", "topp", "toppe", "top"]),
    ("scrambled", ["scrambled", "scrambl", "scramble"]),
    ("press", ["press", "pres"]),
])
def test_word_forms(word, forms):
    assert myt.word_forms(word) == forms


@pytest.mark.parametrize("label, cls, rule", [
    ("crack_egg", "crack_egg", "exact"),
    ("crack_eggs", "crack_egg", "inflection"),           # plural
    ("using_spatula", "use_spatula", "inflection"),       # -ing + e
    ("stiring_eggs", "stir_egg", "inflection"),           # both words
    ("scrambled_eggs", "scramble_egg", "inflection"),     # -ed
    ("add_toppings", "add_topp", "inflection"),           # topp comes before top in word_forms
    ("add_tomatoes", "add_tomato", "inflection"),
    ("add_asparagus", "add_asparagu", "inflection"),      # the dictionary's own crude stem
    ("press_it", "pres_it", "inflection"),
    ("Sauté_it ", "saute_it", "inflection"),              # case, accent, space folded
    ("pour_egg_whites", "pour_egg", "head"),              # verb + first object word
    ("pour_eggs_whites", "pour_egg", "head"),
    ("beat_them", "beat_it", "table"),
    ("beat_eggs", None, "background"),                    # no rule: beat_egg is not a class here
    ("whisk_them", None, "background"),                   # table row whose class is absent
])
def test_label_map_rules(label, cls, rule):
    lm = myt.LabelMap(CLASSES, table={"beat_them": "beat_it", "whisk_them": "whisk_it"})
    assert lm(label) == (cls, rule)


def test_earlier_rules_win_over_the_table():
    lm = myt.LabelMap(CLASSES, table={"crack_eggs": "pour_egg"})
    assert lm("crack_eggs") == ("crack_egg", "inflection")


def test_frame_labels_and_report_with_normalisation():
    segs = [myt.Segment(0.0, 2.0, "crack_eggs"), myt.Segment(2.0, 3.0, "pour_egg_whites"),
            myt.Segment(3.0, 4.0, "wipe_pan"), myt.Segment(4.0, 5.0, "crack_egg")]
    lm = myt.LabelMap(CLASSES, table={})
    got = myt.segments_to_frame_labels(segs, 6, 1.0, CLASSES, unknown="normalise", label_map=lm)
    assert got.tolist() == [0, 0, 1, 12, 0, 12]
    assert myt.segments_to_frame_labels(segs, 6, 1.0, CLASSES, unknown="background").tolist() \
        == [12, 12, 12, 12, 0, 12]
    rep = myt.label_report({"v": segs, "w": segs[:1]}, lm, videos=["v", "w"])
    assert rep["segments"] == {"exact": 1, "inflection": 2, "head": 1, "table": 0, "background": 1}
    assert rep["labels"] == {"exact": 1, "inflection": 1, "head": 1, "table": 0, "background": 1}
    assert rep["unmapped"] == ["wipe_pan"]
    assert rep["mapped"] == {"crack_eggs": "crack_egg", "pour_egg_whites": "pour_egg"}


def test_label_table_format(tmp_path):
    good = tmp_path / "t.tsv"
    good.write_text("# provenance\nlabel\tclass\tnote\nbeat_them\tbeat_it\tpronoun\nx_y\tz_w\n")
    assert myt.read_label_table(good) == {"beat_them": "beat_it", "x_y": "z_w"}
    for body, problem in (("lab\tclass\n", "line 1: expected the header"),
                          ("label\tclass\na\tb\na\tc\n", "line 3: label 'a' listed twice"),
                          ("label\tclass\nonly_label\n", "line 2: expected 'label<TAB>class")):
        bad = tmp_path / "bad.tsv"
        bad.write_text(body)
        with pytest.raises(DataError, match=problem):
            myt.read_label_table(bad)


def test_packaged_table_is_readable():
    table = myt.read_label_table()
    assert len(table) == 29 and table["mix_them"] == "mix_it"
    assert table["cook_omellete"] == "cook_omelette" and table["toss_them"] == "tos_it"


# ----------------------------------------------------------------------------- real files

@pytest.fixture(scope="module")
def real(real_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("myt_labels")
    with tarfile.open(real_data_dir / "mining_youtube" / "annotations.tar.gz") as tar:
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(out, **kwargs)
    files = sorted((out / "annotations").glob("*.srt"))
    classes = myt.read_class_dict(real_data_dir / "mining_youtube" / "weakYouTube_dict.txt")
    return {p.stem: myt.read_srt(p) for p in files}, classes


def test_real_labels_loader_statistics(real):
    annotations, classes = real
    assert len(annotations) == 250 and all(annotations.values())
    labels = {s.label for segs in annotations.values() for s in segs}
    assert sum(map(len, annotations.values())) == 5132 and len(labels) == 690
    assert len(labels - set(classes)) == 260
    rep = myt.label_report(annotations, myt.LabelMap(classes))
    # a change to the rules or the table is a visible change of these counts
    assert rep["labels"] == {"exact": 430, "inflection": 130, "head": 101, "table": 29,
                             "background": 0}
    assert rep["segments"] == {"exact": 3898, "inflection": 898, "head": 156, "table": 180,
                               "background": 0}
    assert rep["mapped"]["using_spatula"] == "use_spatula"
    assert rep["mapped"]["add_olive_oil"] == "add_olive"
    assert all(c in classes for c in rep["mapped"].values())


def test_every_table_row_is_needed_and_valid(real):
    annotations, classes = real
    table = myt.read_label_table()
    assert set(table.values()) <= set(classes)
    lm = myt.LabelMap(classes)
    labels = {s.label for segs in annotations.values() for s in segs}
    by_table = {lab for lab in labels if lm(lab)[1] == "table"}
    assert by_table == set(table)  # no row that an earlier rule already maps, none unused


def test_sample_ground_truth_is_reproduced(real, real_data_dir):
    annotations, classes = real
    gt_names = myt.read_gt(real_data_dir / "mining_youtube" / "-1okAudsnAc.gt")
    index = {c: k for k, c in enumerate(classes)}
    gt = np.array([index[n] for n in gt_names])
    segs, fps = annotations["-1okAudsnAc"], 30000 / 1001  # the video's frame rate (29.97)
    ours = myt.segments_to_frame_labels(segs, len(gt), fps, classes, unknown="normalise")
    old = myt.segments_to_frame_labels(segs, len(gt), fps, classes, unknown="background")
    assert (old == gt).mean() < 0.88  # crack_eggs and pour_egg_whites lost to background
    assert (ours == gt).mean() >= 0.99
    # what is left is the rounding of segment edges: every miss lies within a frame of a GT edge
    edges = np.flatnonzero(np.diff(gt)) + 1
    misses = np.flatnonzero(ours != gt)
    assert len(misses) <= 2 * len(edges)
    assert all(np.abs(edges - m).min() <= 1 for m in misses)
    runs = [k for k, _ in itertools.groupby(ours.tolist())]
    assert runs == [k for k, _ in itertools.groupby(gt.tolist())]  # the same transcript
    # with the GT's own edge rounding every frame agrees
    official = myt.segments_to_frame_labels(segs, len(gt), fps, classes, unknown="normalise",
                                            edges="official")
    assert (official == gt).all()


def test_official_edges():
    segs = [myt.Segment(0.9, 2.2, "crack_egg")]  # at 2 fps: 1.8 .. 4.4
    classes = ["crack_egg", "background"]
    ceil = myt.segments_to_frame_labels(segs, 6, 2.0, classes)
    official = myt.segments_to_frame_labels(segs, 6, 2.0, classes, edges="official")
    assert ceil.tolist() == [1, 1, 0, 0, 0, 1]       # frames 2 .. 4 start inside [0.9, 2.2)
    assert official.tolist() == [1, 0, 0, 0, 1, 1]   # 1-based frames round(1.8)=2 .. round(4.4)=4
