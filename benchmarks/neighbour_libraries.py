"""Which approximate nearest-neighbour library backs ``ssft.methods.neighbours``: build + query time
and recall@k against exact neighbours, for hnswlib, pynndescent and faiss-cpu (HNSW).

Data: real pooled MiniLM features when a label-spreading run's ``model.safetensors`` is given
(``--features``), and synthetic Gaussian clusters (384 dims, float32, L2-normalised). Every row
queries the base it belongs to (the label-spreading graph); recall is measured on 1,000 sampled
rows against scikit-learn's exact neighbours. One thread, so the figures compare like with like.

    OMP_NUM_THREADS=1 python benchmarks/neighbour_libraries.py --n 10000 100000 --features RUN/model.safetensors
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def clusters(n: int, d: int = 384, k: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)).astype(np.float32)
    x = centres[rng.integers(0, k, n)] + rng.normal(scale=1.0, size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact(x: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    d = (x[rows] ** 2).sum(1)[:, None] - 2 * x[rows] @ x.T + (x**2).sum(1)[None]
    return np.argsort(d, axis=1)[:, :k]


def run_hnswlib(x, k, seed):
    import hnswlib

    index = hnswlib.Index(space="l2", dim=x.shape[1])
    index.init_index(max_elements=len(x), ef_construction=200, M=16, random_seed=seed)
    index.add_items(x, num_threads=1)
    index.set_ef(max(2 * k, 64))
    return index.knn_query(x, k=k, num_threads=1)[0]


def run_pynndescent(x, k, seed):
    from pynndescent import NNDescent

    return NNDescent(x, n_neighbors=k, random_state=seed, n_jobs=1).neighbor_graph[0]


def run_faiss(x, k, seed):
    import faiss

    faiss.omp_set_num_threads(1)
    index = faiss.IndexHNSWFlat(x.shape[1], 16)
    index.hnsw.efConstruction = 200
    index.hnsw.efSearch = max(2 * k, 64)
    index.add(x)
    return index.search(x, k)[1]


LIBS = {"hnswlib": run_hnswlib, "pynndescent": run_pynndescent, "faiss-hnsw": run_faiss}


def measure(name: str, x: np.ndarray, k: int = 20) -> list[dict]:
    rows = np.random.default_rng(1).choice(len(x), size=min(1000, len(x)), replace=False)
    truth = exact(x, rows, k)
    out = []
    for lib, fn in LIBS.items():
        t0 = time.perf_counter()
        idx = fn(x, k, 0)
        dt = time.perf_counter() - t0
        rec = np.mean([len(set(a) & set(b)) / k for a, b in zip(idx[rows], truth, strict=True)])
        out.append(
            {"data": name, "n": len(x), "library": lib, "seconds": round(dt, 2), "recall": round(rec, 4)}
        )
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--features", default=None, help="a label_spreading run's model.safetensors")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    res = []
    if args.features:
        from safetensors.numpy import load_file

        x = load_file(args.features)["baseline.x"].astype(np.float32)
        res += measure("real MiniLM pooled (Banking77)", x)
    for n in args.n:
        res += measure("synthetic Gaussian clusters", clusters(n))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
