"""cocotb testbenches for the generated engines and the runner glue (Icarus, Verilator)."""
