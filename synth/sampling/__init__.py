"""Samplers: each takes an explicit numpy Generator (never a default one)."""
