"""Validated reading of attention inputs and atomic writing of results (docs/spec.md §6).

`load_qk` checks against the score stage's parameters (`LatteConfig.score`)."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ScoreConfig
from .design.files import atomic_write
from .errors import UserError


@dataclass
class AttentionInput:
    """q [R, d]; k [N, d] or [H, N, d]; heads [R]; thresholds [H]; row_thresholds [R] (a design with
    row_thresholds: each row's own T); round1_thresholds [H] (a design with rounds 2: T1) — all int64,
    validated."""

    q: np.ndarray
    k: np.ndarray
    heads: np.ndarray
    thresholds: np.ndarray
    extras: dict
    key_limit: np.ndarray  # [R]: row r sees keys j < key_limit[r]
    kv_heads: np.ndarray | None = None  # [H]: query head -> KV head, when the file maps them (k then [H, N, d])
    kv_k: np.ndarray | None = None      # [Hkv, N, d]: the keys as given, one set per KV head (with kv_heads)
    row_thresholds: np.ndarray | None = None  # [R]: T of each row, for a design with row_thresholds
    round1_thresholds: np.ndarray | None = None  # [H]: T1 of each head, for a design with rounds 2

    @property
    def n_keys(self) -> int:
        return self.k.shape[-2]

    def keys_of_head(self, head: int) -> np.ndarray:
        return self.k[head] if self.k.ndim == 3 else self.k

    @property
    def key_mask(self) -> np.ndarray:
        """[R, N]: the keys each row may see."""
        return np.arange(self.n_keys)[None, :] < self.key_limit[:, None]


def _integer_array(name: str, arr: np.ndarray, expect: str) -> np.ndarray:
    if not np.issubdtype(arr.dtype, np.signedinteger):
        raise UserError(f"array '{name}' has dtype {arr.dtype}: expected a signed integer dtype ({expect})")
    return arr.astype(np.int64)


def _read_npz(path: Path) -> dict:
    expected = "expected numpy.savez output with arrays q, k, thresholds"
    if not path.is_file():
        raise UserError(f"input file {path} does not exist: {expected}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"input file {path} is not a readable .npz archive ({exc.__class__.__name__}): "
                        f"{expected}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise UserError(f"input file {path} holds a single array (.npy), not an .npz archive: {expected}")
    try:
        with loaded as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"input file {path} is not a readable .npz archive ({exc.__class__.__name__}): "
                        f"{expected}") from None


def load_thresholds_json(path: str | os.PathLike, cfg: ScoreConfig) -> dict[str, np.ndarray]:
    """{"thresholds": [H], and "denominator_comp" and "round1_thresholds" [H] when present} from a JSON file
    written by `calibrate`, checked against `cfg` (the values' ranges are checked with the input)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        values = data["thresholds"]
    except FileNotFoundError:
        raise UserError(f"--thresholds {path} does not exist: expected the JSON file `latte-rtl calibrate` "
                        "writes") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"--thresholds {path} is not a thresholds file ({exc.__class__.__name__}): expected JSON "
                        'with a list "thresholds" (as `latte-rtl calibrate` writes)') from None
    if not isinstance(values, list) or not values or not all(isinstance(v, int) and not isinstance(v, bool)
                                                             for v in values):
        raise UserError(f'--thresholds {path}: "thresholds" must be a non-empty list of integers, not {values!r}')
    mode = data.get("threshold_mode", cfg.threshold_mode) if isinstance(data, dict) else cfg.threshold_mode
    if mode != cfg.threshold_mode:
        raise UserError(f"--thresholds {path} holds {mode} thresholds but the design's mode is {cfg.threshold_mode}")
    out = {"thresholds": np.array(values, dtype=np.int64)}
    m1 = data.get("round1_msb_bits")
    if "round1_thresholds" in data and cfg.rounds == 2 and m1 is not None and m1 != cfg.round1_msb_bits:
        raise UserError(f"--thresholds {path} holds first-round thresholds of {m1}-bit operands but the design's "
                        f"first round reads {cfg.round1_msb_bits} (msb_bits {cfg.msb_bits}): calibrate them for it")
    for name in ("denominator_comp", "round1_thresholds"):
        extra = data.get(name)
        if extra is None:
            continue
        if not isinstance(extra, list) or len(extra) != len(values) or not all(isinstance(c, int) for c in extra):
            raise UserError(f'--thresholds {path}: "{name}" must be a list of {len(values)} integers')
        out[name] = np.array(extra, dtype=np.int64)
    return out


def load_qk(path: str | os.PathLike, cfg: ScoreConfig, overrides: dict | None = None) -> AttentionInput:
    """Read and validate an attention input file against `cfg`; every problem is one UserError.
    `overrides` (e.g. from `load_thresholds_json`) replace the file's arrays of the same names."""
    path = Path(path)
    arrays = _read_npz(path)
    if LAYERS in arrays:
        raise UserError(f"input file {path} holds several layers ('{LAYERS}'): this command takes one layer; "
                        "`latte-rtl run` takes them all")
    arrays.update(overrides or {})
    return _validated(arrays, cfg, path)


LAYERS = "layers"  # multi-layer files: `layers` [L] (layer numbers) and each layer's arrays as `layer<i>.<name>`


def layer_prefix(layer: int) -> str:
    return f"layer{layer}."


def load_layers(path: str | os.PathLike, cfg: ScoreConfig) -> dict[int | None, AttentionInput]:
    """{layer: validated input} of a multi-layer file (`dump --all-layers`), or {None: input} of
    a one-layer file."""
    path = Path(path)
    arrays = _read_npz(path)
    if LAYERS not in arrays:
        return {None: _validated(arrays, cfg, path)}
    layers = _integer_array(LAYERS, arrays[LAYERS], "layers [L]")
    if layers.ndim != 1 or layers.size == 0 or len(set(layers.tolist())) != layers.size:
        raise UserError(f"array '{LAYERS}' of {path} has {layers.tolist()}: expected distinct layer numbers [L], L ≥ 1")
    out = {}
    for layer in layers.tolist():
        prefix = layer_prefix(layer)
        out[layer] = _validated({n[len(prefix):]: a for n, a in arrays.items() if n.startswith(prefix)}, cfg,
                                f"{path} ({prefix[:-1]})")
    return out


def _validated(arrays: dict, cfg: ScoreConfig, path) -> AttentionInput:
    for name in ("q", "k", "thresholds"):
        if name not in arrays:
            raise UserError(f"input file {path} has no array '{name}': expected arrays q, k, thresholds "
                            f"(found: {', '.join(sorted(arrays)) or 'none'})")
    lo, hi = cfg.operand_range
    d = cfg.dim
    q = _integer_array("q", arrays["q"], f"q [R, {d}]")
    if q.ndim != 2 or q.shape[1] != d or q.shape[0] < 1:
        raise UserError(f"array 'q' has shape {list(q.shape)}: expected [R, {d}] with R ≥ 1 (dim = {d})")
    k = _integer_array("k", arrays["k"], f"k [N, {d}]")
    if k.ndim not in (2, 3) or k.shape[-1] != d or k.shape[-2] < 1:
        raise UserError(f"array 'k' has shape {list(k.shape)}: expected [N, {d}] or [H, N, {d}] with N ≥ 1")
    if k.shape[-2] > cfg.max_keys:
        raise UserError(f"array 'k' has {k.shape[-2]} keys: the design holds at most max_keys = {cfg.max_keys}")
    for name, arr in (("q", q), ("k", k)):
        if arr.min() < lo or arr.max() > hi:
            bad = arr.min() if arr.min() < lo else arr.max()
            raise UserError(f"array '{name}' holds {bad}, outside the signed {cfg.bits}-bit range [{lo}, {hi}]")
    thresholds = _integer_array("thresholds", arrays["thresholds"], "thresholds [H]")
    if thresholds.ndim != 1 or not (1 <= thresholds.shape[0] <= cfg.heads):
        raise UserError(f"array 'thresholds' has shape {list(thresholds.shape)}: expected [H] with "
                        f"1 ≤ H ≤ heads = {cfg.heads}")
    n_heads = thresholds.shape[0]
    for h, t in enumerate(thresholds.tolist()):
        cfg.check_threshold(t, f"thresholds[{h}]")
    kv_heads, kv_k = None, None
    if "kv_heads" in arrays:
        kv_heads, kv_k = _kv_heads(arrays["kv_heads"], k, n_heads)
        k = kv_k[kv_heads]  # per query head, as an unmapped file gives it
    if k.ndim == 3 and k.shape[0] != n_heads:
        raise UserError(f"array 'k' has keys for {k.shape[0]} heads but 'thresholds' has {n_heads}: "
                        "expected one key set per head")
    if "heads" in arrays:
        heads = _integer_array("heads", arrays["heads"], "heads [R]")
        if heads.shape != (q.shape[0],):
            raise UserError(f"array 'heads' has shape {list(heads.shape)}: expected [{q.shape[0]}] (one per row of q)")
        if heads.min() < 0 or heads.max() >= n_heads:
            raise UserError(f"array 'heads' holds {heads.min() if heads.min() < 0 else heads.max()}: "
                            f"expected head indices 0..{n_heads - 1} (one per threshold)")
    else:
        heads = np.zeros(q.shape[0], dtype=np.int64)
    key_limit = _key_limit(arrays, q.shape[0], k.shape[-2], cfg.max_keys)
    row_thresholds = _row_thresholds(arrays, q.shape[0], cfg, path) if cfg.row_thresholds else None
    round1 = _round1_thresholds(arrays, n_heads, cfg, path) if cfg.rounds == 2 else None
    extras = {name: arr for name, arr in arrays.items()
              if name not in ("q", "k", "thresholds", "heads", "key_limit", "kv_heads", "row_thresholds",
                              "round1_thresholds")}
    return AttentionInput(q=q, k=k, heads=heads, thresholds=thresholds, extras=extras, key_limit=key_limit,
                          kv_heads=kv_heads, kv_k=kv_k, row_thresholds=row_thresholds, round1_thresholds=round1)


def _round1_thresholds(arrays: dict, heads: int, cfg: ScoreConfig, path) -> np.ndarray:
    """`round1_thresholds` [H] of a design with rounds 2 (required there), each in T1's range."""
    if "round1_thresholds" not in arrays:
        raise UserError(f"input file {path} has no array 'round1_thresholds': the design has rounds 2, expected "
                        f"one first-round threshold T1 per head, [{heads}] (`latte-rtl calibrate --rounds 2` "
                        "writes them; pass its JSON with --thresholds)")
    t = _integer_array("round1_thresholds", arrays["round1_thresholds"], "round1_thresholds [H]")
    if t.shape != (heads,):
        raise UserError(f"array 'round1_thresholds' has shape {list(t.shape)}: expected [{heads}] (one per "
                        "threshold)")
    for h, value in enumerate(t.tolist()):
        cfg.check_round1_threshold(value, f"round1_thresholds[{h}]")
    return t


def _row_thresholds(arrays: dict, rows: int, cfg: ScoreConfig, path) -> np.ndarray:
    """`row_thresholds` [R] of a design whose rows bring their own T (required there), each in range."""
    if "row_thresholds" not in arrays:
        raise UserError(f"input file {path} has no array 'row_thresholds': the design has row_thresholds on, "
                        f"expected one threshold per row of q, [{rows}]")
    t = _integer_array("row_thresholds", arrays["row_thresholds"], "row_thresholds [R]")
    if t.shape != (rows,):
        raise UserError(f"array 'row_thresholds' has shape {list(t.shape)}: expected [{rows}] (one per row of q)")
    for r, value in enumerate(t.tolist()):
        cfg.check_threshold(value, f"row_thresholds[{r}]")
    return t


def _kv_heads(arr, k: np.ndarray, n_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """(kv_heads [H], keys per KV head [Hkv, N, d]) of a file with the optional `kv_heads` array."""
    kv_heads = _integer_array("kv_heads", arr, "kv_heads [H]")
    if kv_heads.shape != (n_heads,):
        raise UserError(f"array 'kv_heads' has shape {list(kv_heads.shape)}: expected [{n_heads}] (the KV head of "
                        "each query head, one per threshold)")
    kv_k = k if k.ndim == 3 else k[None]
    if kv_heads.min() < 0 or kv_heads.max() >= kv_k.shape[0]:
        bad = kv_heads.min() if kv_heads.min() < 0 else kv_heads.max()
        raise UserError(f"array 'kv_heads' holds {bad}: expected KV head indices 0..{kv_k.shape[0] - 1} (one per "
                        "key set of 'k')")
    return kv_heads, kv_k


def _key_limit(arrays: dict, rows: int, n_keys: int, max_keys: int) -> np.ndarray:
    """Optional `key_limit` [R]: row r sees keys j < min(N, key_limit[r]) (1..max_keys); default N."""
    if "key_limit" not in arrays:
        return np.full(rows, n_keys, dtype=np.int64)
    limit = _integer_array("key_limit", arrays["key_limit"], "key_limit [R]")
    if limit.shape != (rows,):
        raise UserError(f"array 'key_limit' has shape {list(limit.shape)}: expected [{rows}] (one per row of q)")
    if limit.min() < 1 or limit.max() > max_keys:
        bad = limit.min() if limit.min() < 1 else limit.max()
        raise UserError(f"array 'key_limit' holds {bad}: expected 1..{max_keys} (max_keys; a row sees keys "
                        f"j < min(N, key_limit))")
    return np.minimum(limit, n_keys)


RESULT_FIELDS = {"hh": np.int64, "estimate": np.int64,  # estimate: the E the filter compared (= hh)
                 "kept": bool, "scores": np.int64, "kept_count": np.int64, "cycles": np.int64,
                 "probs": np.int64, "out": np.int64,  # attention tops
                 "interval": np.int64,  # attention tops and overlapped score rows (§3)
                 "overflow": np.int64, "bytes_read": np.int64, "bytes_read_k_msb": np.int64,  # decode tops only
                 "bytes_read_k_lsb": np.int64, "bytes_read_v": np.int64}  # (docs/spec.md §6, §7, §9)


def save_result(path, result: dict, manifest: dict) -> None:
    """Write the result format of docs/spec.md §6 (and §7's probs/out when `result` has them); a result of
    several layers ({layer: result}) as `layers` and `layer<i>.<name>`, like the input."""
    if all(isinstance(layer, int) for layer in result):
        arrays = {LAYERS: np.array(sorted(result), np.int64)}
        for layer in sorted(result):
            arrays.update({layer_prefix(layer) + name: np.asarray(result[layer][name], dtype=dtype)
                           for name, dtype in RESULT_FIELDS.items() if name in result[layer]})
    else:
        arrays = {name: np.asarray(result[name], dtype=dtype)
                  for name, dtype in RESULT_FIELDS.items() if name in result}
    arrays["config"] = np.array(json.dumps(manifest, sort_keys=True))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _kv_values(v: np.ndarray, inp: AttentionInput, d: int) -> np.ndarray:
    """V of a file with `kv_heads`: [N, d] or one set per KV head [Hkv, N, d], returned per query head."""
    n_kv, n = inp.kv_k.shape[0], inp.n_keys
    if v.ndim == 2:
        return v
    if v.shape != (n_kv, n, d):
        raise UserError(f"array 'v' has shape {list(v.shape)}: expected [{n}, {d}] or [{n_kv}, {n}, {d}] (one V set "
                        "per KV head, as 'k')")
    return v[inp.kv_heads]


@dataclass
class AttentionArrays:
    """The §7 additions to an input: v [N, d] or [H, N, d]; softmax_mult [H]; denominator_comp [H]."""

    v: np.ndarray
    mult: np.ndarray
    comp: np.ndarray


def load_attention(inp: AttentionInput, cfg) -> AttentionArrays:
    """Check the arrays an attention top needs (`cfg` is the LatteConfig); one UserError each."""
    sc, n_heads, d, n = cfg.score, len(inp.thresholds), cfg.score.dim, inp.n_keys
    for name in ("v", "softmax_mult"):
        if name not in inp.extras:
            raise UserError(f"an attention top needs the array '{name}' (docs/spec.md §7): v [N, {d}] or [H, N, {d}], "
                            "softmax_mult [H]")
    v = _integer_array("v", inp.extras["v"], f"v [N, {d}]")
    if inp.kv_heads is not None:
        v = _kv_values(v, inp, d)
    if v.ndim not in (2, 3) or v.shape[-2:] != (n, d) or (v.ndim == 3 and v.shape[0] != n_heads):
        raise UserError(f"array 'v' has shape {list(v.shape)}: expected [{n}, {d}] or [{n_heads}, {n}, {d}] "
                        "(one V row per key)")
    lo, hi = sc.operand_range
    if v.min() < lo or v.max() > hi:
        bad = v.min() if v.min() < lo else v.max()
        raise UserError(f"array 'v' holds {bad}, outside the signed {sc.bits}-bit range [{lo}, {hi}]")
    limits = {"softmax_mult": (1 << cfg.attention.mult_bits) - 1,
              "denominator_comp": (1 << cfg.attention_widths.comp_width) - 1}
    arrays = {}
    for name, top in limits.items():
        arr = _integer_array(name, inp.extras[name], f"{name} [H]") if name in inp.extras \
            else np.zeros(n_heads, np.int64)
        if arr.shape != (n_heads,):
            raise UserError(f"array '{name}' has shape {list(arr.shape)}: expected [{n_heads}] (one per head)")
        if arr.min() < 0 or arr.max() > top:
            bad = arr.min() if arr.min() < 0 else arr.max()
            raise UserError(f"array '{name}' holds {bad}: expected 0..{top} (its register's width)")
        arrays[name] = arr
    return AttentionArrays(v=v, mult=arrays["softmax_mult"], comp=arrays["denominator_comp"])


def decode_steps(inp: AttentionInput, group: int) -> list[np.ndarray]:
    """The row indices of each decode step, in order (docs/spec.md §6): the rows of one KV head (query head h's
    KV head is kv_heads[h], else h itself), ascending, G = `group` at a time; KV heads ascending. Refuses
    (UserError) a KV head whose row count is not a multiple of G, and a `key_limit` below N."""
    if (inp.key_limit < inp.n_keys).any():
        r = int(np.flatnonzero(inp.key_limit < inp.n_keys)[0])
        raise UserError(f"array 'key_limit' holds {int(inp.key_limit[r])} (row {r}): a decode step reads every key, "
                        f"so key_limit must be absent or at least N = {inp.n_keys}")
    kv = inp.heads if inp.kv_heads is None else inp.kv_heads[inp.heads]
    steps = []
    for h in np.unique(kv):
        rows = np.flatnonzero(kv == h)
        if rows.size % group:
            raise UserError(f"KV head {int(h)} has {rows.size} query rows: a decode step takes group = {group} rows "
                            f"of one KV head, so each KV head needs a multiple of {group} rows")
        steps += [rows[i:i + group] for i in range(0, rows.size, group)]
    return steps
