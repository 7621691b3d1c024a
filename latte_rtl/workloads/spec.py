"""Model hyper-parameters shared by the torch trainer and the NumPy inference."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    vocab: int  # lm: bytes; vision: pixel intensities 0..16 (unused: scalar embedding)
    d_model: int
    n_heads: int
    n_layers: int
    d_ff: int
    seq: int  # context (lm) or tokens per image (vision)
    n_out: int  # logits per position (lm) or classes (vision)
    causal: bool

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


LM = ModelSpec("lm", vocab=256, d_model=256, n_heads=4, n_layers=4, d_ff=1024, seq=256, n_out=256, causal=True)
VISION = ModelSpec("vision", vocab=17, d_model=64, n_heads=4, n_layers=3, d_ff=128, seq=64, n_out=10, causal=False)
SPECS = {"lm": LM, "vision": VISION}
