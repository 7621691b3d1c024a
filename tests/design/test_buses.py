"""The memory-bus seam (latte_rtl/buses/): `kv_memory`'s choices, where the decode parameters apply, the tops
generated, the manifest's sections and the simulation models all follow the registry. A new bus is one class
and one registry line: the test defines AXI4 with 4-bit IDs here, registers it, and nothing else changes."""

import json

import pytest

from latte_rtl.buses import BUSES, Axi4ReadBus, OnChipBus
from latte_rtl.cli.common import Parser, add_config_options, design_config_from_args
from latte_rtl.config import DecodeConfig, LatteConfig
from latte_rtl.design import generate, load_design
from latte_rtl.errors import UserError
from latte_rtl.params import applies, param_fields, spec_of
from latte_rtl.tops import default_top, tops_for

SMALL = dict(dim=8, lanes=8, heads=3, group=3, max_keys=16, kept_buffer=8, axi_data_width=64)


class Axi4WideIdBus(Axi4ReadBus):
    """AXI4 whose ARID / RID are 4 bits wide (ARID still 0): all else as kv_memory axi."""

    name = "axi_wide_id"
    help = "the decode tops over AXI4 with 4-bit IDs"
    id_width = 4


@pytest.fixture
def wide_id(monkeypatch):
    """The new bus's registry line (buses/__init__.py's BUSES), for this test only."""
    monkeypatch.setitem(BUSES, Axi4WideIdBus.name, Axi4WideIdBus())
    return BUSES[Axi4WideIdBus.name]


def _field(cls, name):
    return next(f for f in param_fields(cls) if f.name == name)


def test_registry_gives_the_choices_and_each_design_its_bus():
    assert list(_field(DecodeConfig, "kv_memory").metadata["param"].choices) == list(BUSES) == ["onchip", "axi"]
    assert isinstance(LatteConfig().bus, OnChipBus) and isinstance(LatteConfig.from_params(kv_memory="axi").bus,
                                                                  Axi4ReadBus)
    axi = BUSES["axi"]
    assert axi.native_define == "LATTE_AXI" and axi.port == "axi" and axi.max_burst == 16
    assert axi.amaranth_model().__name__ == "ReactiveMemory"
    assert "LATTE_AXI" in axi.native_functions({"axi__rdata": 64})[0]


def test_a_new_bus_is_a_choice_with_the_decode_parameters(wide_id):
    cfg = LatteConfig.from_params(kv_memory="axi_wide_id", **SMALL)
    assert cfg.bus is wide_id and cfg.attention.attention and cfg.score.threshold_mode == "absolute"
    assert applies({"kv_memory": "axi_wide_id"}, spec_of(_field(DecodeConfig, "group")))
    assert not applies({"kv_memory": "onchip"}, spec_of(_field(DecodeConfig, "group")))
    parser = Parser()
    add_config_options(parser)
    args = parser.parse_args(["--kv-memory", "axi_wide_id", "--group", "3", "--heads", "3", "--dim", "8",
                              "--lanes", "8", "--max-keys", "16", "--kept-buffer", "8"])
    assert design_config_from_args(args).params() == LatteConfig.from_params(
        kv_memory="axi_wide_id", group=3, heads=3, dim=8, lanes=8, max_keys=16, kept_buffer=8).params()
    with pytest.raises(UserError, match="vmean"):
        LatteConfig.from_params(kv_memory="axi_wide_id", vmean=True)


def test_a_new_bus_builds_and_generates_the_decode_tops(wide_id, tmp_path):
    cfg = LatteConfig.from_params(kv_memory="axi_wide_id", **SMALL)
    assert [t.name for t in tops_for(cfg)] == ["latte_decode_engine", "dense_decode_engine"]
    assert default_top(cfg) == "latte_decode_engine"
    manifest = generate(cfg, tmp_path / "d")
    ports = {p["name"]: p["width"] for p in manifest["tops"]["latte_decode_engine"]["ports"]}
    assert ports["axi__arid"] == 4 and ports["axi__rid"] == 4
    axi = generate(LatteConfig.from_params(kv_memory="axi", **SMALL), tmp_path / "a")
    assert axi["memory_layout"] == manifest["memory_layout"] and axi["protocol"] == manifest["protocol"]
    assert manifest["derived"]["decode"] == axi["derived"]["decode"]
    on_disk = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert on_disk["params"]["kv_memory"] == "axi_wide_id"
    assert load_design(tmp_path / "d")[0] == cfg


def test_an_unregistered_bus_is_refused():
    with pytest.raises(UserError, match="kv_memory must be one of onchip, axi, not 'axi_wide_id'"):
        LatteConfig.from_params(kv_memory="axi_wide_id")
