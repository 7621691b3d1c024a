"""Real workloads: two small trained transformers (byte-level LM, ViT on digits) and the pretrained
all-MiniLM-L6-v2 on docstring retrieval; their NumPy inference with pluggable attention (float,
int8, LATTE, absolute, the §7 integer pipeline), calibration, evaluation and dumps (tasks.py)."""
