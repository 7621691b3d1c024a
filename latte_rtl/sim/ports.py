"""Pack and unpack port payloads using the bit fields the manifest lists for each port."""

from __future__ import annotations

import numpy as np


class PortFields:
    """The fields of one payload port: pack(dict) -> int, unpack(int) -> dict.

    Array fields appear in the manifest as ``data[0]``, ``data[1]``...; pack() takes them as a
    list under ``data`` and unpack() returns them so too.
    """

    def __init__(self, fields: list[dict]):
        self.fields = fields
        self.arrays: dict[str, list[dict]] = {}
        self.scalars: dict[str, dict] = {}
        for f in fields:
            if f["name"].endswith("]"):
                self.arrays.setdefault(f["name"].split("[")[0], []).append(f)
            else:
                self.scalars[f["name"]] = f

    @staticmethod
    def _put(word: int, f: dict, value: int) -> int:
        mask = (1 << f["width"]) - 1
        return word | ((int(value) & mask) << f["offset"])

    @staticmethod
    def _get(word: int, f: dict) -> int:
        value = (word >> f["offset"]) & ((1 << f["width"]) - 1)
        if f["signed"] and value >> (f["width"] - 1):
            value -= 1 << f["width"]
        return value

    def pack(self, values: dict) -> int:
        word = 0
        for name, value in values.items():
            if name in self.arrays:
                for f, v in zip(self.arrays[name], value):
                    word = self._put(word, f, v)
            else:
                word = self._put(word, self.scalars[name], value)
        return word

    def unpack(self, word: int) -> dict:
        out = {name: self._get(word, f) for name, f in self.scalars.items()}
        for name, fs in self.arrays.items():
            out[name] = [self._get(word, f) for f in fs]
        return out

    def pack_words(self, beats: list[dict]) -> np.ndarray:
        """pack() of many beats at once: [n, W] uint32, the little-endian words of each payload
        (W = ceil(width / 32) of the widest field end)."""
        width = max(f["offset"] + f["width"] for f in self.fields)
        bits = np.zeros((len(beats), -(-width // 32) * 32), np.uint8)
        for name, fs in [*((n, [f]) for n, f in self.scalars.items()), *self.arrays.items()]:
            if fs[0]["width"] > 62 and name not in self.arrays:  # a wide scalar (a whole q vector): Python ints
                raw = [(int(b[name]) & ((1 << fs[0]["width"]) - 1)).to_bytes(-(-fs[0]["width"] // 8), "little")
                       for b in beats]
                field = np.unpackbits(np.frombuffer(b"".join(raw), np.uint8).reshape(len(beats), -1), axis=1,
                                      bitorder="little")
                bits[:, fs[0]["offset"]:fs[0]["offset"] + fs[0]["width"]] = field[:, :fs[0]["width"]]
                continue
            values = np.array([b[name] if name in self.arrays else [b[name]] for b in beats], np.int64)
            for i, f in enumerate(fs):
                shifts = np.arange(f["width"], dtype=np.int64)
                bits[:, f["offset"]:f["offset"] + f["width"]] = (values[:, i, None] >> shifts) & 1
        return np.packbits(bits, axis=1, bitorder="little").view("<u4")

    def unpack_words(self, words: np.ndarray) -> list[dict]:
        """unpack() of many payloads at once: `words` [n, W] uint32, little-endian words of each."""
        bits = np.unpackbits(np.ascontiguousarray(words, "<u4").view(np.uint8), axis=1, bitorder="little")
        columns = {f["name"]: self._column(bits, f) for f in self.fields}
        names = list(self.scalars) + list(self.arrays)
        per_name = [columns[n] for n in self.scalars]
        per_name += [[list(v) for v in zip(*(columns[f["name"]] for f in fs))] for fs in self.arrays.values()]
        return [dict(zip(names, values)) for values in zip(*per_name)]

    @staticmethod
    def _column(bits: np.ndarray, f: dict) -> list[int]:
        field = bits[:, f["offset"]:f["offset"] + f["width"]]
        if f["width"] > 62:  # past int64 arithmetic: Python integers
            return [sum(int(b) << i for i, b in enumerate(row)) - ((1 << f["width"]) if f["signed"] and row[-1] else 0)
                    for row in field]
        value = field.astype(np.int64) @ (np.int64(1) << np.arange(f["width"], dtype=np.int64))
        if f["signed"]:
            value -= field[:, -1].astype(np.int64) << f["width"]
        return value.tolist()


def payload_fields(manifest: dict, top: str) -> dict[str, PortFields]:
    """{name: PortFields} for every structured port of `top`: a stream payload under its
    interface name (``query``, ``monitor__estimate``), a plain port under its own name
    (``monitor__reads``). Nested struct fields are named ``outer.inner``."""
    out = {}
    for port in manifest["tops"][top]["ports"]:
        if "fields" in port:
            name = port["stream"]["interface"] if "stream" in port else port["name"]
            out[name] = PortFields(port["fields"])
    return out


def stream_kinds(manifest: dict, top: str) -> dict[str, str]:
    """{name: kind} of every stream and structured output port of `top`, in manifest order:
    "source" (input stream), "sink" (output stream with ready), "observation" (output stream
    without ready, e.g. ``monitor__estimate``) or "reader" (plain structured output port)."""
    ports = manifest["tops"][top]["ports"]
    roles: dict[str, dict] = {}
    for p in ports:
        if "stream" in p:
            roles.setdefault(p["stream"]["interface"], {})[p["stream"]["role"]] = p["direction"]
    kinds = {name: "observation" if "ready" not in r else "source" if r["valid"] == "input" else "sink"
             for name, r in roles.items()}
    kinds.update({p["name"]: "reader" for p in ports
                  if "stream" not in p and "fields" in p and p["direction"] == "output"})
    return kinds
