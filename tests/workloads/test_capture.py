"""latte_rtl.capture on small torch models built here (no downloads): SDPA calls, nn.MultiheadAttention
(SDPA inside and torch's own path), a Hugging Face-style eager attention module. The dumped int8
tensors, dequantized, must reproduce the model's own attention output, and the file must run through
the attention top's golden function (docs/spec.md §7) to about the same output."""

import numpy as np
import pytest

from latte_rtl.capture import capture
from latte_rtl.config import LatteConfig
from latte_rtl.errors import UserError
from latte_rtl.golden import float_attention
from latte_rtl.npzio import load_qk
from latte_rtl.tops import get_top
from tests.conftest import require_torch

SEED = 12


@pytest.fixture
def torch():
    t = require_torch()
    t.manual_seed(SEED)
    print(f"torch seed {SEED}")
    return t


def _dequantized_attention(arrays):
    """Float attention of the file's int8 tensors times their scales, per head → [H*S, d]."""
    h = len(arrays["thresholds"])
    q = arrays["q"].reshape(h, -1, arrays["q"].shape[1]) * arrays["scale_q"][:, None, None]
    k, v = (arrays[n] * arrays[f"scale_{n}"][:, None, None] for n in ("k", "v"))
    s, n = q.shape[1], k.shape[1]
    limit = arrays.get("key_limit", np.full(h * s, n))[:s]
    keep = np.arange(n)[None, :] < limit[:, None]
    d = q.shape[-1]
    scale = arrays["softmax_mult"] / (arrays["scale_q"] * arrays["scale_k"] * np.log2(np.e) * 2.0 ** 22)  # F + R
    return np.concatenate([float_attention(q[i] * scale[i] * np.sqrt(d), k[i], v[i], keep) for i in range(h)])


def _golden_out(path, arrays):
    """The LATTE attention top's golden output of the saved file, as real numbers [H*S, d]."""
    h, d = len(arrays["thresholds"]), arrays["q"].shape[1]
    cfg = LatteConfig.from_params(attention=True, dim=d, lanes=d, heads=h, max_keys=arrays["k"].shape[1])
    res = get_top("latte_attention_engine").expected(load_qk(path, cfg.score), cfg)
    return res["out"] * arrays["scale_v"][arrays["heads"]][:, None] / 255


def _check(arrays, want, path):
    """want: the model's attention output [H*S, d]. Errors relative to its largest magnitude: int8
    rounding only (5 %); the §7 integer softmax (B = 8) floors probabilities of ~1/N (15 %)."""
    top = np.abs(want).max()
    assert np.abs(_dequantized_attention(arrays) - want).max() < 0.05 * top
    assert np.abs(_golden_out(path, arrays) - want).max() < 0.15 * top


class SdpaModel:
    """Two causal self-attention layers that call scaled_dot_product_attention themselves."""

    def __init__(self, torch, width=32, heads=2):
        self.torch, self.heads = torch, heads
        self.layers = [torch.nn.Linear(width, 3 * width) for _ in range(2)]

    def __call__(self, x):
        F = self.torch.nn.functional
        for proj in self.layers:
            b, s, w = x.shape
            q, k, v = (t.reshape(b, s, self.heads, -1).transpose(1, 2) for t in proj(x).chunk(3, dim=-1))
            x = x + F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, s, w)
        return x


def test_sdpa_calls_are_recorded_and_dumped_exactly(torch, tmp_path):
    model = SdpaModel(torch)
    with torch.no_grad(), capture() as cap:
        model(torch.randn(2, 24, 32))
    assert len(cap.records) == 2 and all(r.source == "scaled_dot_product_attention" for r in cap.records)
    path = tmp_path / "l1.npz"
    arrays = cap.save(path, layer=1, sample=1)
    assert arrays["q"].shape == (2 * 24, 16) and arrays["k"].shape == arrays["v"].shape == (2, 24, 16)
    assert arrays["key_limit"].tolist() == list(range(1, 25)) * 2  # causal: row r sees keys 0..r
    _check(arrays, arrays["out_float"], path)
    # the int8 tensors are the model's q, k, v at the recorded scales (rounding only)
    q_back = arrays["q"] * np.repeat(arrays["scale_q"], 24)[:, None]
    assert np.abs(q_back - arrays["q_float"]).max() <= arrays["scale_q"].max() / 2 + 1e-6
    with pytest.raises(UserError, match="layer=2"):
        cap.arrays(2)


def test_keep_target_gives_calibrated_thresholds(torch, tmp_path):
    with torch.no_grad(), capture() as cap:
        SdpaModel(torch)(torch.randn(1, 64, 32))
    dense = cap.arrays(0)
    sparse = cap.arrays(0, keep=0.25)
    cfg = LatteConfig.from_params(attention=True, dim=16, lanes=16, heads=2, max_keys=64)
    assert (sparse["thresholds"] < dense["thresholds"]).all()
    kept = []
    for arrays in (dense, sparse):
        path = tmp_path / f"{len(kept)}.npz"
        np.savez(path, **arrays)
        inp = load_qk(path, cfg.score)
        kept.append(get_top("latte_attention_engine").expected(inp, cfg)["kept"].sum() / inp.key_mask.sum())
    assert kept[0] == 1.0 and 0.15 < kept[1] < 0.4, kept


@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention(torch, tmp_path, need_weights):
    """need_weights=False: MHA calls SDPA (recorded there); True: torch's own path (projections)."""
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(1, 20, 32)
    with torch.no_grad(), capture(mha) as cap:
        y, _ = mha(x, x, x, need_weights=need_weights)
    assert len(cap.records) == 1 and cap.records[0].source == ""
    path = tmp_path / "mha.npz"
    arrays = cap.save(path, layer=0)
    assert "key_limit" not in arrays
    heads = _dequantized_attention(arrays).reshape(4, 20, 8).transpose(1, 0, 2).reshape(20, 32)
    want = y[0].numpy()
    got = heads @ mha.out_proj.weight.detach().numpy().T + mha.out_proj.bias.detach().numpy()
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()


def test_transformer_encoder_layer_in_eval_mode(torch):
    """The fused fast path would bypass the attention module: capture turns it off meanwhile."""
    enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2,
                                      enable_nested_tensor=False).eval()
    with torch.no_grad(), capture(enc) as cap:
        enc(torch.randn(1, 10, 32))
    assert [r.source for r in cap.records] == ["layers.0.self_attn", "layers.1.self_attn"]
    assert torch.backends.mha.get_fastpath_enabled()  # restored


def _hf_model(torch, width=48, heads=3):
    """Two BertSelfAttention-like modules (query/key/value Linear, eager softmax)."""
    nn = torch.nn

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_attention_heads, self.attention_head_size = heads, width // heads
            self.query, self.key, self.value = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)

        def forward(self, hidden):
            b, s, _ = hidden.shape
            split = lambda t: t.view(b, s, heads, -1).transpose(1, 2)  # noqa: E731
            q, k, v = split(self.query(hidden)), split(self.key(hidden)), split(self.value(hidden))
            probs = (q @ k.transpose(-1, -2) / self.attention_head_size ** 0.5).softmax(-1)
            return ((probs @ v).transpose(1, 2).reshape(b, s, width), probs)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList([nn.ModuleDict({"attention": SelfAttention()}) for _ in range(2)])

        def forward(self, x):
            for layer in self.layer:
                x = x + layer["attention"](x)[0]
            return x

    return Encoder().eval()


def test_hugging_face_style_eager_module(torch, tmp_path):
    model = _hf_model(torch)
    with torch.no_grad(), capture(model) as cap:
        model(torch.randn(1, 30, 48))
    assert [r.source for r in cap.records] == ["layer.0.attention", "layer.1.attention"]
    path = tmp_path / "hf.npz"
    arrays = cap.save(path, layer=1)
    _check(arrays, arrays["out_float"], path)


def test_grouped_query_and_unbatched_sdpa_calls(torch):
    F = torch.nn.functional
    q, k, v = torch.randn(4, 6, 8), torch.randn(2, 9, 8), torch.randn(2, 9, 8)  # [H, S, d], 2 K/V heads
    with capture() as cap:
        out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, scale=0.5)
    rec = cap.records[0]
    assert rec.q.shape == (1, 4, 6, 8) and rec.k.shape == rec.v.shape == (1, 4, 9, 8) and rec.scale == 0.5
    assert np.array_equal(rec.k[0, 1], k[0].numpy()) and np.array_equal(rec.k[0, 2], k[1].numpy())
    assert np.allclose(rec.out[0], out.numpy())
    arrays = cap.arrays(0)
    assert np.abs(_dequantized_attention(arrays) - out.numpy().reshape(24, 8)).max() < 0.05 * out.abs().max().item()
