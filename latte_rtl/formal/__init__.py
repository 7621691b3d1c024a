"""Formal proofs of a generated design (`latte-rtl prove`): property wrappers around the design's own
Verilog (properties.py), SymbiYosys runs and their results (sby.py), mutants that must fail (mutants.py)."""
