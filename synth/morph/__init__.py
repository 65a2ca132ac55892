"""`synth morph`: the same person at other body-fat levels."""
