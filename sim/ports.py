"""Pack and unpack port payloads using the bit fields the manifest lists for each port."""

from __future__ import annotations


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
