"""How a module's submodules are joined, read from its generated Verilog: which input stream of a block comes
straight from another block's output stream (the same valid, ready and payload nets) and which passes through
glue (a combinational fork or arbiter, a payload assembled from several places, logic in the parent's body).

A stream straight from a proven block's output keeps the protocol by that block's proof, so a proof of its
consumer may assume it; a glue stream is never assumed (its consumer is proven without it, or inside the module
that holds the glue)."""

from __future__ import annotations

import re

from .verilog import Port, module_body, stream_ports

_INSTANCE = re.compile(r"^  (\S+) (\S+) \(\n(.*?)\n  \);", re.MULTILINE | re.DOTALL)
_CONNECTION = re.compile(r"^\s*\.(\S+?)\((.*)\),?$")
# a bit-slice of a net: `\\escaped$name [7:2]` (an escaped name ends at its space) or `plain[7:2]`
_SLICE = re.compile(r"^(\\\S+ |[A-Za-z_][\w$]*)\s*\[\d+(?::\d+)?\]$")


def instances(text: str, parent: str) -> dict[str, tuple[str, dict[str, str]]]:
    """{instance name: (module, {port: connected expression})} of the submodules in `parent`'s body."""
    found = {}
    for match in _INSTANCE.finditer(module_body(text, parent)):
        module, name, body = match.groups()
        conns = {}
        for line in body.splitlines():
            conn = _CONNECTION.match(line)
            if conn:
                conns[conn.group(1)] = conn.group(2).strip()
        found[name] = (module, conns)
    return found


def _reads(consumer: str | None, producer: str | None) -> bool:
    """Whether a consumer's payload connection reads only bits the producer's payload connection drives: the same
    expression, or a bit-slice of the whole net the producer drives."""
    if consumer is None or producer is None:
        return False
    sliced = _SLICE.match(consumer)
    return consumer == producer or (sliced is not None and sliced.group(1).strip() == producer)


def _sources(ports: dict[str, dict[str, Port]], parent: str, found: dict, blocks: set[str], free) -> dict:
    """{valid net: (ready net, payload net or None)} of the streams a consumer in `parent` may take directly:
    the output streams of the blocks among the instances and `parent`'s own input streams (but those in
    `free`: glue one level up)."""
    sources = {}
    for _, (module, conns) in found.items():
        if module not in blocks:
            continue
        for s in stream_ports(ports[module]):
            if not s.valid_in and f"{s.name}__valid" in conns:
                sources[conns[f"{s.name}__valid"]] = (conns.get(f"{s.name}__ready"),
                                                      conns.get(f"{s.name}__payload"), s.payload is not None)
    for s in stream_ports(ports[parent]):
        if s.valid_in and s.name not in free:
            sources[f"{s.name}__valid"] = (f"{s.name}__ready", f"{s.name}__payload" if s.payload else None, True)
    return sources


def glue_streams(found: dict, ports: dict[str, dict[str, Port]], parent: str, blocks: set[str],
                 free=()) -> list[tuple[str, str]]:
    """(block module, stream name) of every input stream of a block instanced in `parent` (`found`: its
    `instances`) that does not come straight from a block's output stream or from `parent`'s own input stream
    (one not in `free`, itself glue in `parent`'s parent): same valid and ready nets, and the payload the same
    net (or a slice of it), or no payload port on the consumer (its payload passes through to one of its
    outputs, checked there). A producer whose payload port is an input (it passes a payload on) counts: its
    proof asserts the hold on that very net."""
    sources = _sources(ports, parent, found, blocks, free)
    glue = []
    for _, (module, conns) in found.items():
        if module not in blocks:
            continue
        for s in stream_ports(ports[module]):
            if not s.valid_in:
                continue
            source = sources.get(conns.get(f"{s.name}__valid"))
            direct = source is not None and source[0] == conns.get(f"{s.name}__ready") and (
                not s.payload or (source[2] and _reads(conns.get(f"{s.name}__payload"), source[1])))
            if not direct:
                glue.append((module, s.name))
    return glue
