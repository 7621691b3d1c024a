"""Yosys/nextpnr flows (the .ys scripts beside this file) and cost reports."""
