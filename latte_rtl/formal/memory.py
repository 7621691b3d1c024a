"""The memory module as the protocol proofs see it: the design's SRAM with its contents abstracted away. A
read returns any value (a fresh free value each read), held while `ren` is low, exactly as the real SRAM
holds its registered read data. Every behaviour of the real memory is one of this model's, so a stream
protocol property proven with it holds with the real memory (the protocol never rests on the data read),
and the solver carries no memory array: max_keys × dim words would otherwise be state in every step."""

from __future__ import annotations

import re

# The ports of the generated memory module (design/netlist.py's latte_sram) that the model keeps.
_PORTS = ("clk", "waddr", "wdata", "wen", "raddr", "ren", "rdata")
_PARAMS = ("WIDTH", "DEPTH", "ABITS", "GRAN")


def abstract(text: str, module: str) -> str | None:
    """The model of memory module `module` (its Verilog `text`), or None if its interface is not the one
    expected (then the proofs read the real memory)."""
    header = re.search(rf"module {re.escape(module)}\s*#\((.*?)\)\s*\((.*?)\);", text, re.DOTALL)
    if not header or any(not re.search(rf"\b{p}\b", header.group(1)) for p in _PARAMS) \
            or any(not re.search(rf"\b{p}\b", header.group(2)) for p in _PORTS):
        return None
    return (f"module {module} #(parameter integer WIDTH = 8, parameter integer DEPTH = 16, "
            "parameter integer ABITS = 4, parameter integer GRAN = 8) (\n"
            "  input wire clk, input wire [ABITS-1:0] waddr, input wire [WIDTH-1:0] wdata,\n"
            "  input wire [WIDTH/GRAN-1:0] wen, input wire [ABITS-1:0] raddr, input wire ren,\n"
            "  output reg [WIDTH-1:0] rdata);\n"
            "  (* anyseq *) wire [WIDTH-1:0] any_data;  // latte-rtl prove: the contents abstracted away\n"
            "  always @(posedge clk) if (ren) rdata <= any_data;\n"
            "endmodule\n")
