"""Real workloads: two small trained transformers (byte-level LM, ViT on digits), their NumPy
inference with pluggable attention (float, int8, LATTE, absolute), calibration and evaluation."""
