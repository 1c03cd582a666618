"""The Mining YouTube dataset's Viterbi decoder (``official_alignment``): one worked example per
convention of the tool, then two independent references written from its description (every
path enumerated; hypotheses kept in a dict with a beam) on random inputs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from mcnbench.metrics.segmentation import (
    MYT_OFFICIAL,
    official_alignment,
    official_poisson_scores,
    transcript_alignment,
)


def _lp(p):
    return np.log(np.asarray(p, dtype=np.float64))


# Two classes, six frames, blocks of s = 2: steps t = 0, 2, 4 (K = 3) score the start block
# {0, 1}, then {0}, {1, 2}, {3, 4}; frame 5 is never scored.
FRAMES_0_TO_2_ARE_0 = _lp([[.9, .1], [.9, .1], [.99, .01], [.1, .9], [.1, .9], [.1, .9]])


def test_scored_up_to_t_but_labelled_from_t():
    got = official_alignment(FRAMES_0_TO_2_ARE_0, [0, 1], frame_sampling=2, poisson_mean=None)
    # the change happens at step t = 2: block {1, 2} was scored under class 0, yet frames
    # [2, 4) are labelled 1, so frame 2 is wrong although its score said 0
    assert got.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert got.bounds.tolist() == [0, 2, 6]
    exact = transcript_alignment(FRAMES_0_TO_2_ARE_0, [0, 1])
    assert exact.labels.tolist() == [0, 0, 0, 1, 1, 1]
    on_grid = transcript_alignment(FRAMES_0_TO_2_ARE_0, [0, 1], frame_sampling=2)
    assert on_grid.labels.tolist() == [0, 0, 0, 0, 1, 1]


def test_first_block_twice_last_frames_never_and_lengths_in_steps():
    lp = FRAMES_0_TO_2_ARE_0
    got = official_alignment(lp, [0], frame_sampling=2, poisson_mean=3.0)
    c = lp[:, 0]
    # start {0,1} + {0} + {1,2} + {3,4}; the one segment has length (K + 1) * s = 8 frames
    want = (c[0] + c[1]) + c[0] + (c[1] + c[2]) + (c[3] + c[4]) + official_poisson_scores(3.0, 9)[8]
    assert got.score == pytest.approx(want, rel=1e-6)
    # frame 5 is outside every block: no score of it changes the result
    lp5 = lp.copy()
    lp5[5] = [0.0, -50.0]
    a = official_alignment(lp, [0, 1], frame_sampling=2, poisson_mean=None)
    b = official_alignment(lp5, [0, 1], frame_sampling=2, poisson_mean=None)
    assert a.score == b.score and a.labels.tolist() == b.labels.tolist()


def test_the_first_entry_can_vanish():
    lp = _lp([[.9, .1], [.1, .9], [.1, .9], [.1, .9], [.1, .9], [.1, .9]])
    got = official_alignment(lp, [0, 1], frame_sampling=2, poisson_mean=None)
    # the best change is at step 0; the start block, entry 0's only frames, is dropped
    assert got.labels.tolist() == [1] * 6 and got.bounds.tolist() == [0, 0, 6]
    assert transcript_alignment(lp, [0, 1]).labels.tolist() == [0, 1, 1, 1, 1, 1]


def test_the_last_entry_can_get_frames_it_never_scored():
    lp = _lp([[.9, .1]] * 5 + [[.01, .99]])
    got = official_alignment(lp, [0, 1], frame_sampling=2, poisson_mean=None)
    # class 1 wins only frame 5, which no block covers: the change comes at the last step,
    # and entry 1 takes frames [4, 6) with no score of its own
    assert got.labels.tolist() == [0, 0, 0, 0, 1, 1]


def test_tool_poisson_is_renormalised_at_its_mean():
    table = official_poisson_scores(150.0, 5000)
    assert table[0] == -np.inf and table[150] == pytest.approx(0.0, abs=1e-9)
    assert table[149] == pytest.approx(0.0, abs=1e-9) and table[20] < table[100] < 0


def test_errors():
    with pytest.raises(ValueError, match="T >= frame_sampling"):
        official_alignment(np.zeros((10, 2)), [0], frame_sampling=20)
    with pytest.raises(ValueError, match="4 transcript entries"):
        official_alignment(np.zeros((4, 2)), [0, 1, 0, 1], frame_sampling=2)
    # K + 1 entries fit (one path): a change at every step, the first entry without frames
    assert official_alignment(np.zeros((4, 2)), [0, 1, 0], frame_sampling=2).bounds.tolist() \
        == [0, 0, 2, 4]


# ----------------------------------------------------------------------------- references

def _blocks(lp, tr, s):
    """(start score [L], block scores [K, L]) as the tool sums them (float32 cumulative)."""
    cs = np.cumsum(lp[:, tr].astype(np.float32), axis=0)
    K = -(-len(lp) // s)
    blocks = np.array([cs[k * s] - (cs[k * s - s] if k else 0) for k in range(K)])
    return cs[s - 1].astype(np.float64), blocks.astype(np.float64)


def _length_score(mean, max_length):
    table = None if mean is None else official_poisson_scores(mean, max_length)
    return lambda n: -np.inf if n >= max_length else (0.0 if table is None else table[n])


def _enumerate(lp, tr, s, mean, max_length=5000):
    """Every path: entry j changes to j+1 at step m_j (m_0 < m_1 < ...); entry 0 scores the
    start block and steps 0..m_0, entry j steps m_{j-1}+1..m_j, the last one the remaining
    steps; lengths (m_j - m_{j-1})·s with m_{-1} = -1, the last one a step longer; block k is
    labelled with the entry that holds after step k."""
    start, blocks = _blocks(lp, tr, s)
    K, L = len(blocks), len(tr)
    pois = _length_score(mean, max_length)
    best = (-np.inf, None)
    for m in itertools.combinations(range(K), L - 1):
        ends = [*m, K - 1]
        score, prev = start[0], -1
        for j in range(L):
            score += blocks[prev + 1: ends[j] + 1, j].sum()
            score += pois((ends[j] - prev + (j == L - 1)) * s)
            prev = ends[j]
        if score > best[0]:
            best = (score, m)
    edges = [0, *best[1], K]
    labels = np.concatenate([[tr[j]] * (edges[j + 1] - edges[j]) for j in range(L)])
    return np.repeat(labels, s)[: len(lp)], best[0]


def _hypotheses(lp, tr, s, mean, beam=None, max_length=5000):
    """The decoder as hypotheses {(entry, length): (score, labels)} advanced step by step,
    keeping the ``beam`` best after each step."""
    start, blocks = _blocks(lp, tr, s)
    pois = _length_score(mean, max_length)
    hyps = {(0, s): (start[0], [])}
    for b in blocks:
        new = {}
        for (j, n), (score, lab) in hyps.items():
            cand = [((j, n + s), score + b[j], lab + [tr[j]])]
            if j + 1 < len(tr):
                cand.append(((j + 1, s), score + b[j] + pois(n), lab + [tr[j + 1]]))
            for key, sc, lb in cand:
                if key not in new or sc > new[key][0]:
                    new[key] = (sc, lb)
        if beam is not None and len(new) > beam:
            new = dict(sorted(new.items(), key=lambda kv: -kv[1][0])[:beam])
        hyps = new
    final = [(sc + pois(n), lab) for (j, n), (sc, lab) in hyps.items() if j == len(tr) - 1]
    score, lab = max(final, key=lambda x: x[0])
    return np.repeat(lab, s)[: len(lp)], score


def _random_case(rng):
    s = int(rng.integers(1, 5))
    T = int(rng.integers(s, 26))
    K = -(-T // s)
    # no entry repeats its predecessor (as in real transcripts): otherwise paths tie exactly
    # and the tool's choice depends on its dictionary order
    steps = rng.integers(1, 4, int(rng.integers(1, min(K + 1, 5) + 1)))
    tr = (int(rng.integers(4)) + np.concatenate([[0], np.cumsum(steps[1:])])) % 4
    lp = np.log(rng.dirichlet(np.ones(4), T))
    mean = None if rng.random() < 0.4 else float(rng.uniform(2, 20))
    return lp, tr, s, mean


def test_matches_every_path_enumerated():
    rng = np.random.default_rng(0)
    for _ in range(150):
        lp, tr, s, mean = _random_case(rng)
        want, score = _enumerate(lp, tr, s, mean)
        got = official_alignment(lp, tr, frame_sampling=s, poisson_mean=mean)
        assert got.labels.tolist() == want.tolist() and got.score == pytest.approx(score)
        assert got.bounds[0] == 0 and got.bounds[-1] == len(lp)
        assert np.repeat(tr, np.diff(got.bounds)).tolist() == got.labels.tolist()


def test_max_length_and_beam_match_the_hypothesis_reference():
    rng = np.random.default_rng(1)
    for _ in range(150):
        lp, tr, s, mean = _random_case(rng)
        beam = int(rng.integers(1, 9))
        max_length = 5000 if rng.random() < 0.5 else int(rng.integers(3 * s, 10 * s + 1))
        try:
            want, score = _hypotheses(lp, tr, s, mean, beam, max_length)
        except ValueError:  # the beam lost every complete hypothesis
            with pytest.raises(ValueError, match="no official alignment"):
                official_alignment(lp, tr, frame_sampling=s, poisson_mean=mean,
                                   max_hypotheses=beam, max_length=max_length)
            continue
        if not np.isfinite(score):  # every complete path too long for max_length
            with pytest.raises(ValueError, match="no official alignment"):
                official_alignment(lp, tr, frame_sampling=s, poisson_mean=mean,
                                   max_hypotheses=beam, max_length=max_length)
            continue
        got = official_alignment(lp, tr, frame_sampling=s, poisson_mean=mean, max_hypotheses=beam,
                                 max_length=max_length)
        assert got.labels.tolist() == want.tolist() and got.score == pytest.approx(score)


def test_the_tool_settings_on_a_long_video():
    rng = np.random.default_rng(2)
    T, truth = 3000, np.repeat([3, 0, 3, 1, 3], [900, 400, 700, 500, 500])
    lp = rng.normal(size=(T, 5))
    lp[np.arange(T), truth] += 1.5
    got = official_alignment(lp, [3, 0, 3, 1, 3], log_softmax=True, **MYT_OFFICIAL)
    assert (got.bounds[1:-1] % 20 == 0).all() and (got.labels == truth).mean() > 0.97
    assert got.labels.tolist() == official_alignment(lp, [3, 0, 3, 1, 3], log_softmax=True,
                                                     max_hypotheses=None).labels.tolist()
