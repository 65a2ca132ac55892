"""Anthropometric labels from a subject's neutral-pose mesh (the backend's rest pose).

`definitions` says what each label is (tape circumferences at the surveys' landmarks,
RFM body fat, mass, BMI); `topology` prepares a body model's regions and landmarks once;
`planes` places the tapes; `BodyMeasurer` (`batch`) measures many bodies at once and
`ReferenceMeasurer` (`reference`) is the plain one-body implementation the tests hold
it to.
"""
from synth.measurements.batch import BodyMeasurer, signed_volumes
from synth.measurements.definitions import (CIRCUMFERENCES, DENSITY_FAT_RANGE_PCT, LABELS_VERSION, LUNG_GAS_M3,
                                            MEASUREMENT_NAMES, Measurements, body_mass_kg, derived,
                                            navy_body_fat_pct, rfm_body_fat_pct, siri_density_kg_m3)
from synth.measurements.reference import ReferenceMeasurer, loop_length, section_hull

__all__ = ["BodyMeasurer", "CIRCUMFERENCES", "DENSITY_FAT_RANGE_PCT", "LABELS_VERSION", "LUNG_GAS_M3",
           "MEASUREMENT_NAMES", "Measurements", "ReferenceMeasurer", "body_mass_kg", "derived", "navy_body_fat_pct",
           "loop_length", "rfm_body_fat_pct", "section_hull", "signed_volumes", "siri_density_kg_m3"]
