"""Cosine k-means with the semantics of ``fast_pytorch_kmeans.KMeans(mode="cosine")`` (as MCN
uses it, mcn_spec §4.2) and the online clustering schedule of MCN (queue + periodic refits).

Library semantics reproduced by :func:`cosine_kmeans`:

* assignment: argmax of cosine similarity ``x·c / ((|x|+1e-8)(|c|+1e-8))``;
* update: centroid = arithmetic mean of the *raw* (un-normalised) member rows; an empty cluster's
  centroid becomes the zero vector (``empty="zero"``; ``"reseed"`` is an opt-in fix);
* stop once ``Σ_k |c_k(new) - c_k(old)|² <= tol`` or after ``max_iter`` iterations; the update of
  the last iteration is kept, while the returned labels are the assignments computed against the
  centroids at the *start* of that iteration;
* random init = ``k`` distinct rows of X; a warm start passes ``init``.

Everything is vectorised torch and runs on X's device.
"""
from __future__ import annotations

import torch

__all__ = ["cosine_kmeans", "assign_cosine", "soft_assign_cosine", "FeatureQueue", "OnlineKMeans"]

_EPS = 1e-8  # the library's epsilon in its cosine similarity


def assign_cosine(X: torch.Tensor, centroids: torch.Tensor, *,
                  chunk_rows: int = 16384) -> torch.Tensor:
    """Nearest centroid by cosine similarity: ``X [N, D], centroids [K, D] -> labels [N]``.

    Rows of X are not normalised: dividing a row by its positive norm cannot change its argmax,
    so only the centroids are scaled (saves an N x D copy). ``chunk_rows`` bounds the ``[chunk, K]``
    similarity block in memory.
    """
    c_hat = centroids / (centroids.norm(dim=1, keepdim=True) + _EPS)
    labels = torch.empty(X.shape[0], dtype=torch.long, device=X.device)
    for start in range(0, X.shape[0], chunk_rows):
        block = X[start:start + chunk_rows]
        labels[start:start + chunk_rows] = (block @ c_hat.t()).argmax(dim=1)
    return labels


def soft_assign_cosine(X: torch.Tensor, centroids: torch.Tensor, temperature: float) -> torch.Tensor:
    """Soft k-means labels: ``softmax_k(cos(x_i, c_k) / temperature)``, ``[N, D], [K, D] -> [N, K]``.

    The soft counterpart of :func:`assign_cosine` (whose argmax it shares); a zero (empty)
    centroid has cosine 0 with every row. No gradient.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    with torch.no_grad():
        x_hat = X / (X.norm(dim=1, keepdim=True) + _EPS)
        c_hat = centroids / (centroids.norm(dim=1, keepdim=True) + _EPS)
        return torch.softmax((x_hat @ c_hat.t().to(x_hat.dtype)) / temperature, dim=1)


def _cluster_means(X: torch.Tensor, labels: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-cluster mean of the raw rows (``[k, D]``, zero for empty clusters) and counts ``[k]``."""
    sums = torch.zeros(k, X.shape[1], dtype=X.dtype, device=X.device).index_add_(0, labels, X)
    counts = torch.bincount(labels, minlength=k)
    means = sums / counts.clamp(min=1).unsqueeze(1).to(X.dtype)
    return means, counts


def _random_rows(n: int, k: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randperm(n, generator=generator)[:k]


def cosine_kmeans(X: torch.Tensor, k: int, *, init: torch.Tensor | None = None,
                  max_iter: int = 100, tol: float = 1e-4,
                  generator: torch.Generator | None = None, empty: str = "zero",
                  chunk_rows: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine k-means on ``X [N, D]``: returns ``(centroids [k, D], labels [N])``.

    ``init [k, D]`` warm-starts from given centroids; otherwise ``k`` distinct random rows of X
    (drawn with ``generator``, a CPU ``torch.Generator``). ``empty="zero"`` (library behaviour)
    zeroes the centroid of a cluster that lost all its members; ``"reseed"`` moves it to a random
    row of X instead. See the module docstring for the exact stopping/label semantics.
    """
    if X.dim() != 2:
        raise ValueError(f"X must be [N, D], got {tuple(X.shape)}")
    if empty not in ("zero", "reseed"):
        raise ValueError(f"empty must be 'zero' or 'reseed', got {empty!r}")
    if max_iter < 1:
        raise ValueError("max_iter must be >= 1")
    n = X.shape[0]
    if init is None:
        if n < k:
            raise ValueError(f"k-means with random init needs at least k={k} rows, got {n}; "
                             "lower k or cluster more rows")
        centroids = X[_random_rows(n, k, generator).to(X.device)].clone()
    else:
        if tuple(init.shape) != (k, X.shape[1]):
            raise ValueError(f"init must be [{k}, {X.shape[1]}], got {tuple(init.shape)}")
        centroids = init.detach().to(device=X.device, dtype=X.dtype).clone()
    X = X.detach()
    labels = torch.empty(0)
    for _ in range(max_iter):
        labels = assign_cosine(X, centroids, chunk_rows=chunk_rows)
        new, counts = _cluster_means(X, labels, k)
        if empty == "reseed":
            dead = (counts == 0).nonzero().flatten()
            if dead.numel():
                rows = _random_rows(n, min(dead.numel(), n), generator).to(X.device)
                new[dead[:rows.numel()]] = X[rows]
        shift = (new - centroids).pow(2).sum()
        centroids = new
        if shift.item() <= tol:
            break
    return centroids, labels


class FeatureQueue:
    """MCN's FIFO queue of past embeddings (§4.2): a ring buffer of ``rows`` x ``dim``.

    :meth:`push` stores the first ``push_per_video`` clips of every video of a batch (default
    ``clips_per_video // 2``, at least 1: B/2 rows for MCN's 32 clips per video); a push larger
    than the queue keeps its newest rows. :meth:`contents` returns the filled rows oldest first.
    Used by :class:`OnlineKMeans` and by the Sinkhorn assignment (:mod:`mcnbench.models.sinkhorn`).
    """

    def __init__(self, rows: int, dim: int, push_per_video: int | None = None, *,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        if rows < 0 or dim < 1:
            raise ValueError(f"need rows >= 0 and dim >= 1, got rows={rows}, dim={dim}")
        self.rows, self.dim, self.push_per_video = rows, dim, push_per_video
        self.buffer = torch.zeros(rows, dim, device=device, dtype=dtype)
        self.ptr = 0  # next row to write
        self.filled = 0  # rows written so far, capped at rows

    @property
    def full(self) -> bool:
        return self.rows > 0 and self.filled >= self.rows

    def contents(self) -> torch.Tensor:
        """Filled rows, oldest first ``[filled, dim]``."""
        if self.filled < self.rows:
            return self.buffer[:self.filled]
        return torch.cat((self.buffer[self.ptr:], self.buffer[:self.ptr]))

    def push(self, x: torch.Tensor, clips_per_video: int) -> None:
        """Store the first clips of each video of ``x [B, dim]`` (videos' clips contiguous)."""
        if self.rows == 0:
            return
        per_video = min(self.push_per_video or max(1, clips_per_video // 2), clips_per_video)
        rows = x.detach().to(self.buffer.dtype).reshape(-1, clips_per_video, self.dim)
        rows = rows[:, :per_video].reshape(-1, self.dim)[-self.rows:]
        n = rows.shape[0]
        first = min(n, self.rows - self.ptr)
        self.buffer[self.ptr:self.ptr + first] = rows[:first]
        self.buffer[:n - first] = rows[first:]
        self.ptr = (self.ptr + n) % self.rows
        self.filled = min(self.rows, self.filled + n)

    def load(self, contents: torch.Tensor, ptr: int | None = None) -> None:
        """Restore from :meth:`contents` (oldest first). ``ptr`` (the saved :attr:`ptr` of a full
        queue) also restores the ring's layout, for readers of :attr:`buffer` itself."""
        if contents.shape[0] > self.rows or (contents.numel() and contents.shape[1] != self.dim):
            raise ValueError(f"queue contents {tuple(contents.shape)} do not fit a "
                             f"[{self.rows}, {self.dim}] queue")
        n = contents.shape[0]
        contents = contents.to(self.buffer.device, self.buffer.dtype)
        self.buffer.zero_()
        self.filled = n
        if ptr is not None and n == self.rows and self.rows:  # oldest row at ptr
            self.buffer.copy_(torch.roll(contents, shifts=int(ptr) % self.rows, dims=0))
            self.ptr = int(ptr) % self.rows
            return
        self.buffer[:n] = contents
        self.ptr = n % self.rows if self.rows else 0


def check_whole_videos(b: int, clips_per_video: int) -> None:
    if clips_per_video < 1 or b % clips_per_video:
        raise ValueError(f"batch of {b} clips is not a whole number of videos of "
                         f"{clips_per_video} clips")


class OnlineKMeans:
    """MCN's online clustering of the fused embedding (§4.2, ``use_queue=1``, ``fastC=1``).

    A FIFO queue holds fused embeddings of past batches (``queue_rows`` x ``dim``; MCN: 20 batches
    x B/2 rows). Per training step, :meth:`step`:

    1. if ``step_in_epoch % refit_every == 0`` (or no centroids yet): k-means on
       ``[queue ; batch]`` (queue only once it is full), warm-started from the current centroids
       (random init after :meth:`reset_epoch`), keeping the new centroids; labels of the batch are
       the last B labels;
    2. otherwise labels = nearest (cosine) current centroid, centroids unchanged;
    3. pushes the first ``push_per_video`` clips of every video (default ``clips_per_video // 2``,
       at least 1) — B/2 rows for MCN's 32 clips per video. Unlike the reference's hard-coded 2048
       rows / 32 clips, any batch size and clips per video work.

    The queue persists across epochs; only the centroids are reset (``fastC`` at each epoch start).
    Queue row order (oldest first, then the batch) differs from the reference's newest-first
    layout; it only affects which rows a random init draws.

    Under DDP pass the all-gathered batch. On CPU every rank then computes the same centroids;
    on CUDA ``index_add_`` is not bitwise deterministic, so fit on one rank and broadcast the
    centroids and labels.
    """

    def __init__(self, k: int, dim: int, queue_rows: int, refit_every: int = 20,
                 push_per_video: int | None = None, *, max_iter: int = 100, tol: float = 1e-4,
                 empty: str = "zero", seed: int = 0, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        if k < 1 or dim < 1 or queue_rows < 0 or refit_every < 1:
            raise ValueError("need k >= 1, dim >= 1, queue_rows >= 0, refit_every >= 1")
        self.k, self.dim, self.queue_rows, self.refit_every = k, dim, queue_rows, refit_every
        self.push_per_video = push_per_video
        self.max_iter, self.tol, self.empty = max_iter, tol, empty
        self.generator = torch.Generator().manual_seed(seed)
        self._queue = FeatureQueue(queue_rows, dim, push_per_video, device=device, dtype=dtype)
        self.centroids: torch.Tensor | None = None

    @property
    def queue(self) -> torch.Tensor:
        """The queue's ring buffer ``[queue_rows, dim]`` (its device and dtype are the run's)."""
        return self._queue.buffer

    @staticmethod
    def queue_rows_for(queue_size: int, batch_clips: int) -> int:
        """Reference queue length: ``queue_size`` batches of B/2 pushed rows (20·2048 = 40,960)."""
        return queue_size * (batch_clips // 2)

    @property
    def full(self) -> bool:
        return self._queue.full

    def reset_epoch(self) -> None:
        """Forget the centroids (next step refits from random init); keep the queue."""
        self.centroids = None

    def queue_contents(self) -> torch.Tensor:
        """Filled queue rows, oldest first ``[filled, dim]``."""
        return self._queue.contents()

    @torch.no_grad()
    def step(self, fused: torch.Tensor, step_in_epoch: int, clips_per_video: int) -> torch.Tensor:
        """Labels ``[B]`` for this batch's fused embeddings ``[B, dim]`` (videos' clips contiguous)."""
        fused = fused.detach().to(device=self.queue.device, dtype=self.queue.dtype)
        b = fused.shape[0]
        if fused.dim() != 2 or fused.shape[1] != self.dim:
            raise ValueError(f"fused must be [B, {self.dim}], got {tuple(fused.shape)}")
        check_whole_videos(b, clips_per_video)
        if self.centroids is None or step_in_epoch % self.refit_every == 0:
            X = torch.cat((self.queue_contents(), fused)) if self.full else fused
            self.centroids, labels = cosine_kmeans(
                X, self.k, init=self.centroids, max_iter=self.max_iter, tol=self.tol,
                generator=self.generator, empty=self.empty)
            labels = labels[-b:]
        else:
            labels = assign_cosine(fused, self.centroids)
        self._queue.push(fused, clips_per_video)
        return labels

    def state_dict(self) -> dict:
        """Everything needed to resume exactly: queue (oldest first), centroids, RNG state."""
        return {"k": self.k, "dim": self.dim, "queue_rows": self.queue_rows,
                "refit_every": self.refit_every, "push_per_video": self.push_per_video,
                "queue": self.queue_contents().clone(), "centroids": self.centroids,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        for key in ("k", "dim", "queue_rows"):
            if state[key] != getattr(self, key):
                raise ValueError(f"OnlineKMeans state has {key}={state[key]}, "
                                 f"this instance {getattr(self, key)}")
        self._queue.load(state["queue"])
        cents = state["centroids"]
        self.centroids = None if cents is None else cents.to(self.queue.device, self.queue.dtype)
        self.generator.set_state(state["generator"])
