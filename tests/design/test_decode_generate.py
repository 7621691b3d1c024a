"""`generate --kv-memory axi`: the decode tops alone, their memory layout and registers in the manifest and
header, byte-identical regeneration, the AXI4-Lite register map of --interface axis."""

import json

import pytest

from latte_rtl.config import LatteConfig
from latte_rtl.design import generate
from latte_rtl.errors import UserError

PARAMS = dict(kv_memory="axi", attention=True, threshold_mode="absolute", group=3, heads=3, bits=6, msb_bits=2,
              dim=10, lanes=5, max_keys=64, kept_buffer=16, axi_data_width=64)


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    out = tmp_path_factory.mktemp("decode")
    generate(LatteConfig.from_params(**PARAMS), out / "a")
    generate(LatteConfig.from_params(**PARAMS), out / "b")
    return out


def test_only_the_decode_tops_with_layout_and_registers(design):
    manifest = json.loads((design / "a" / "manifest.json").read_text())
    assert set(manifest["tops"]) == {"latte_decode_engine", "dense_decode_engine"}
    assert manifest["default_top"] == "latte_decode_engine"
    layout = manifest["memory_layout"]
    # d 10: 2-bit MSB fields = 20 bits -> 3 bytes; 4-bit LSB = 40 bits -> 5 bytes; 6-bit V = 60 bits -> 8 bytes
    assert {p: v["row_bytes"] for p, v in layout["planes"].items()} == {"k_msb": 3, "k_lsb": 5, "v": 8}
    assert {p: v["row_beats"] for p, v in layout["planes"].items()} == {"k_msb": 1, "k_lsb": 1, "v": 1}
    assert layout["alignment_bytes"] == 8 and layout["addr_width"] == 32
    ports = {p["name"]: p for p in manifest["tops"]["latte_decode_engine"]["ports"]}
    reg = next(f for f in ports["config__payload"]["fields"] if f["name"] == "reg")
    assert reg["values"] == {"BASE_MSB": 0, "STRIDE_MSB": 1, "BASE_LSB": 2, "STRIDE_LSB": 3, "BASE_V": 4,
                             "STRIDE_V": 5, "N_KEYS": 6, "THRESHOLD": 7, "MULT": 8, "COMP": 9}
    assert ports["axi__rdata"]["width"] == 64 and ports["axi__araddr"]["width"] == 32
    header = (design / "a" / "latte_decode_engine.vh").read_text()
    for line in ("localparam integer CONFIG_REG_N_KEYS = 6;", "localparam integer DECODE_ROW_BYTES_K_LSB = 5;",
                 "localparam integer GROUP = 3;", "localparam integer DECODE_BUS_BYTES = 8;"):
        assert line in header
    assert "axi" in manifest["protocol"] and "start" in manifest["protocol"]


def test_regeneration_is_byte_identical(design):
    names = sorted(p.name for p in (design / "a").iterdir())
    assert names == sorted(p.name for p in (design / "b").iterdir())
    for name in names:
        a, b = (design / "a" / name).read_bytes(), (design / "b" / name).read_bytes()
        if name == "manifest.json":  # tool versions and SHA-256 only; no path, no time
            assert json.loads(a) == json.loads(b)
        assert a == b, name


def test_axis_register_map_and_wide_registers_refused(tmp_path):
    """--interface axis: the config stream becomes AXI4-Lite (block 0x100 per register code, word g = query row
    g), the axi manager passes through; a register wider than the 32-bit AXI4-Lite word is refused."""
    manifest = generate(LatteConfig.from_params(**PARAMS), tmp_path / "axis", interface="axis")
    top = manifest["tops"]["latte_decode_engine"]
    assert top["register_map"]["THRESHOLD"] == 0x700 and top["register_map"]["BASE_V"] == 0x400
    names = {p["name"] for p in top["ports"]}
    assert {"s_axil_awaddr", "s_axis_query_tdata", "s_axis_start_tvalid", "m_axis_out_tlast", "axi__arvalid",
            "axi__rdata"} <= names and "config__valid" not in names
    assert "localparam integer REG_MULT_ADDR = 2048;" in (tmp_path / "axis" / "latte_decode_engine_axis.vh").read_text()
    with pytest.raises(UserError, match="axi_addr_width"):
        generate(LatteConfig.from_params(**PARAMS, axi_addr_width=40), tmp_path / "wide", interface="axis")
