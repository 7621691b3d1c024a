"""The MiniLM task: retrieve a standard-library function's docstring body from its one-line
summary (shipped slice `data/minilm_docstrings.json`, built by training/minilm_data.py).

Each test query is ranked against every test document by cosine similarity of the embeddings;
the metric is the mean reciprocal rank of its own document (MRR), with top-1 accuracy beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent.parent / "data"
DOCSTRINGS = DATA / "minilm_docstrings.json"
REFERENCE = DATA / "minilm_reference.npz"


def load_pairs(split: str, limit: int | None = None) -> tuple[list[str], list[str]]:
    """(queries, documents) of the test pairs, or ([], documents) of the calibration set."""
    data = json.loads(DOCSTRINGS.read_text())
    items = data[split][:limit]
    return [it["query"] for it in items] if split == "test" else [], [it["document"] for it in items]


def ranks(queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """1-based rank of document i for query i (embeddings L2-normalized, [T, E]); ties count against."""
    sim = queries @ documents.T
    return (sim >= np.diag(sim)[:, None]).sum(axis=1)  # its own document counts once


def retrieval_metrics(queries: np.ndarray, documents: np.ndarray) -> dict:
    """MRR and top-1 accuracy of retrieving document i for query i."""
    r = ranks(queries, documents)
    return {"mrr": float((1.0 / r).mean()), "top1": float((r == 1).mean())}


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine between corresponding rows of two sets of L2-normalized embeddings."""
    return float((a * b).sum(axis=1).mean())
