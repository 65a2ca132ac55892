"""Synthetic silhouette datasets for silhouette-to-3D-body networks."""
__version__ = "0.1.0"
