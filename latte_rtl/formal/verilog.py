"""Reading the module headers of generated Verilog and adding property text inside a module."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MODULE = re.compile(r"^module (\S+) \((.*?)^\);(.*?)^endmodule", re.MULTILINE | re.DOTALL)
_PORT = re.compile(r"^\s*(input|output)\s+(?:wire|reg)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?([A-Za-z_][\w$]*),?\s*$")


@dataclass(frozen=True)
class Port:
    direction: str  # "input" | "output"
    name: str
    width: int


@dataclass(frozen=True)
class StreamPort:
    """A valid/ready group `<name>__valid`, `<name>__ready` (+ `<name>__payload` when it has one)."""
    name: str
    valid_in: bool  # the module receives this stream
    payload: Port | None


def module_ports(text: str) -> dict[str, dict[str, Port]]:
    """{module: {port name: Port}} of every module in `text` (ANSI headers as Amaranth writes them)."""
    found = {}
    for match in _MODULE.finditer(text):
        ports = {}
        for line in match.group(2).splitlines():
            port = _PORT.match(line)
            if port:
                ports[port.group(3)] = Port(port.group(1), port.group(3), int(port.group(2) or 0) + 1)
        found[match.group(1)] = ports
    return found


def stream_ports(ports: dict[str, Port]) -> list[StreamPort]:
    """The streams with backpressure of a module (valid and ready are both ports)."""
    streams = []
    for name, port in ports.items():
        if name.endswith("__valid") and f"{name[:-7]}__ready" in ports:
            base = name[:-7]
            streams.append(StreamPort(base, port.direction == "input", ports.get(f"{base}__payload")))
    return streams


def has_regs(body: str, *names: str) -> bool:
    """Whether a module's Verilog `body` declares every register in `names` (Amaranth keeps a Signal's name)."""
    return all(re.search(rf"^\s*reg (?:\[\d+:0\] )?{name};", body, re.MULTILINE) for name in names)


def insert_before_endmodule(text: str, module: str, lines: list[str]) -> str:
    """`text` with `lines` added at the end of `module`'s body."""
    for match in _MODULE.finditer(text):
        if match.group(1) == module:
            end = match.end() - len("endmodule")
            return text[:end] + "".join(f"{line}\n" for line in lines) + text[end:]
    raise ValueError(f"module must be in the Verilog, not {module!r}")


def expose(text: str, module: str, names: tuple[str, ...]) -> str:
    """`text` with `module`'s internal signals `names` also on output ports `formal_<name>` (a proof's wrapper
    reads them); ValueError if one is not declared (Amaranth keeps a Signal's name)."""
    for match in _MODULE.finditer(text):
        if match.group(1) == module:
            break
    else:
        raise ValueError(f"module must be in the Verilog, not {module!r}")
    ports, assigns = [], []
    for name in names:
        declared = rf"^\s*(?:reg|wire) (?:signed )?(?:\[(\d+):0\] )?{re.escape(name)};"
        decl = re.search(declared, match.group(3), re.MULTILINE)
        if not decl:
            raise ValueError(f"{module} must declare a signal named {name!r}")
        ports.append(f"\n    output wire [{int(decl.group(1) or 0)}:0] formal_{name},")
        assigns.append(f"  assign formal_{name} = {name};\n")
    end = match.end() - len("endmodule")
    return (text[:match.start(2)] + "".join(ports) + text[match.start(2):end] + "".join(assigns) + text[end:])


def module_body(text: str, module: str) -> str:
    """The text of `module` in `text` (header to endmodule)."""
    for match in _MODULE.finditer(text):
        if match.group(1) == module:
            return match.group(0)
    raise ValueError(f"module must be in the Verilog, not {module!r}")
