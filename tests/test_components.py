"""Each engine component alone in cocotb (Icarus and Verilator), checked against NumPy / golden."""

import pytest

from latte_rtl.config import LatteConfig
from sim.components import COMPONENTS
from sim.runner import simulate_component

SEED = 7
CONFIGS = {
    "rel_b8m4d10l3": LatteConfig(bits=8, msb_bits=4, dim=10, lanes=3, heads=3, max_keys=12),
    "abs_b12m3d8l8": LatteConfig(bits=12, msb_bits=3, dim=8, lanes=8, heads=2, max_keys=9, threshold_mode="absolute"),
}


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("component", COMPONENTS)
def test_component(component, config, simulator, tmp_path):
    print(f"seed={SEED} component={component} config={CONFIGS[config].params()}")
    simulate_component(component, CONFIGS[config], sim=simulator, seed=SEED, work_dir=tmp_path)
