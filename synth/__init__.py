"""Synthetic silhouette datasets for silhouette-to-3D-body networks."""
import os

# torch's OpenMP threads sleep between parallel regions instead of spinning first: a spinning
# thread holds the core a DataLoader worker needs (2-core VM, CPU training recipe: 0.25 ->
# 0.21 s a step). libgomp reads this once, when torch loads, so it is set here, before any
# of synth imports torch; a value already in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
