"""A generated design on disk: Verilog emission, the manifest (write, load, verify) and atomic
file writes."""

from .emit import generate
from .files import atomic_write, atomic_write_text, check_output_dir, check_output_file, file_lock
from .manifest import MANIFEST_NAME, load_design, verify_design

__all__ = ["MANIFEST_NAME", "atomic_write", "atomic_write_text", "check_output_dir", "check_output_file", "file_lock",
           "generate", "load_design", "verify_design"]
