"""Speed of the Mining YouTube dataset decoder reproduction (run: pytest tests/benchmarks
--benchmark-enable --benchmark-only -k official)."""
import numpy as np
import pytest

from mcnbench.metrics import MYT_OFFICIAL, official_alignment


@pytest.mark.parametrize("T, L", [(3000, 10), (9000, 30)], ids=["3000x10", "9000x30"])
def test_official_alignment(benchmark, T, L):
    """A video at 29.97 fps (3,000 frames = 100 s, 9,000 = 5 min), 513 classes, the tool's
    settings (20-frame steps, Poisson 150, beam 50,000), a transcript alternating with background."""
    rng = np.random.default_rng(3)
    log_probs = np.log(rng.dirichlet(np.full(513, 0.5), size=T))
    transcript = [512 if j % 2 == 0 else int(rng.integers(512)) for j in range(L)]
    res = benchmark.pedantic(lambda: official_alignment(log_probs, transcript, **MYT_OFFICIAL),
                             rounds=3, iterations=1, warmup_rounds=1)
    assert res.labels.shape == (T,) and res.bounds[-1] == T
