"""Label spreading over a sparse k-NN graph, with no N x N matrix (Zhou et al., "Learning with
local and global consistency", NeurIPS 2003).

It performs the iteration of scikit-learn's ``LabelSpreading(kernel="knn")`` step for step, so
with exact neighbours the label distributions are scikit-learn's:

* graph: ``A[i, j] = 1`` when ``j`` is among the ``k`` nearest rows of ``i`` (``i`` itself
  included, as ``kneighbors_graph(X)`` does); degrees are the column sums without the diagonal
  (scipy's ``laplacian(normed=True)``, in-degree), isolated rows get degree 1;
  ``S = D^-1/2 A D^-1/2`` with the diagonal set to 0.
* update: ``F <- alpha * S @ F + (1 - alpha) * Y`` from ``F = Y`` (one-hot labels, zero rows for
  unlabelled), stopping when ``sum |F - F_prev| < tol`` or after ``max_iter`` updates; rows are
  then normalised to sum to 1 (all-zero rows stay zero).

Memory is O(N * (k + classes)); time O(N * k * classes) per iteration.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse


def knn_graph(neighbours: np.ndarray) -> sparse.csr_matrix:
    """Normalised label-spreading graph ``S`` (N, N), sparse, from the neighbour indices (N, k)
    of every row among all rows."""
    n, k = neighbours.shape
    rows = np.repeat(np.arange(n), k)
    a = sparse.csr_matrix((np.ones(n * k), (rows, neighbours.ravel())), shape=(n, n))
    a.sum_duplicates()
    a.data[:] = 1.0  # connectivity: a repeated neighbour (approximate search) still counts once
    degree = np.asarray(a.sum(axis=0)).ravel() - a.diagonal()
    w = np.where(degree == 0, 1.0, np.sqrt(degree))
    coo = a.tocoo()
    data = coo.data / w[coo.row] / w[coo.col]
    data[coo.row == coo.col] = 0.0
    s = sparse.csr_matrix((data, (coo.row, coo.col)), shape=(n, n))
    s.eliminate_zeros()
    return s


def spread_labels(
    graph: sparse.spmatrix,
    labels: np.ndarray,
    num_classes: int,
    *,
    alpha: float,
    max_iter: int = 1000,
    tol: float = 1e-3,
) -> np.ndarray:
    """Label distributions (N, num_classes) after spreading ``labels`` (N,), -1 for unlabelled,
    over ``graph`` (N, N) from :func:`knn_graph`. Columns of classes with no label stay zero."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != graph.shape[0]:
        raise ValueError(f"labels must be (N,) with N = {graph.shape[0]}, got shape {labels.shape}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    # scikit-learn works on the classes present; absent classes' columns are zero either way.
    classes = np.unique(labels[labels >= 0])
    f = np.zeros((len(labels), len(classes)))
    for c, label in enumerate(classes):
        f[labels == label, c] = 1.0
    y_static = (1.0 - alpha) * f
    previous = np.zeros_like(f)
    graph = sparse.csr_matrix(graph)
    for _ in range(max_iter):
        if np.abs(f - previous).sum() < tol:
            break
        previous = f
        f = alpha * (graph @ f) + y_static
    else:
        warnings.warn(f"label spreading: max_iter={max_iter} reached without convergence", stacklevel=2)
    norm = f.sum(axis=1, keepdims=True)
    f = f / np.where(norm == 0, 1.0, norm)
    out = np.zeros((len(labels), num_classes))
    out[:, classes.astype(int)] = f
    return out
