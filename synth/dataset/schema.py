"""The columns of a shard: Arrow types, Hugging Face `datasets` features, units.

One row per subject. Flattened arrays keep their shapes and units in
`COLUMN_DOCS` (also written into the schema metadata and the dataset card).
Silhouettes follow the `datasets` Image convention (struct<bytes, path>, with the
`huggingface` schema metadata), so `load_dataset("parquet", ...)` decodes them.
"""
from __future__ import annotations

import json

import pyarrow as pa

SCHEMA_VERSION = 3

_F32 = pa.float32()
_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _value(dtype: str) -> dict:
    return {"dtype": dtype, "_type": "Value"}


def _list(feature: dict) -> dict:
    return {"feature": feature, "_type": "List"}


# name -> (arrow type, HF feature, description with shape and unit)
COLUMNS: dict[str, tuple[pa.DataType, dict, str]] = {
    "subject_index": (pa.int64(), _value("int64"), "subject counter; its generator is SeedSequence(seed, spawn_key=(subject_index,))"),
    "subject_id": (pa.string(), _value("string"), "zero-padded subject_index"),
    "split": (pa.string(), _value("string"), "split name"),
    "seed": (pa.int64(), _value("int64"), "job seed"),
    "body_model": (pa.string(), _value("string"), "backend name (anny, smpl, smplh, smplx)"),
    "body_model_version": (pa.string(), _value("string"), "backend package version or model-file hash"),
    "shape": (pa.list_(_F32), _list(_value("float32")), "(S,) backend shape vector; labels in dataset.json"),
    "capture_pose_rad": (pa.list_(_F32), _list(_value("float32")), "(D,) capture-pose angles, radians; names in dataset.json"),
    "pose": (pa.list_(_F32), _list(_value("float32")), "(J*3,) native per-joint axis-angle, radians"),
    "translation_m": (pa.list_(_F32), _list(_value("float32")), "(3,) world translation added to the forward output, meters"),
    "joints_3d_m": (pa.list_(_F32), _list(_value("float32")), "(J*3,) joints, world frame (+y up, facing +z), meters"),
    "view_names": (pa.list_(pa.string()), _list(_value("string")), "(V,) view names"),
    "silhouettes": (pa.list_(_IMAGE), _list({"_type": "Image"}), "(V,) 1-bit PNG silhouettes, H x W"),
    "K": (pa.list_(pa.list_(_F32)), _list(_list(_value("float32"))), "(V, 9) OpenCV intrinsics, row-major 3x3, pixels"),
    "R": (pa.list_(pa.list_(_F32)), _list(_list(_value("float32"))), "(V, 9) world-to-camera rotation, row-major 3x3 (OpenCV: x right, y down, z forward)"),
    "t": (pa.list_(pa.list_(_F32)), _list(_list(_value("float32"))), "(V, 3) world-to-camera translation, meters"),
    "joints_2d_px": (pa.list_(pa.list_(_F32)), _list(_list(_value("float32"))), "(V, J*2) projected joints (u, v), pixels"),
    "bbox_xyxy_px": (pa.list_(pa.list_(_F32)), _list(_list(_value("float32"))), "(V, 4) silhouette box [x0, y0, x1, y1), pixels"),
    "silhouette_fill": (pa.list_(_F32), _list(_value("float32")), "(V,) fraction of pixels inside the silhouette"),
    "camera_attempts": (pa.list_(pa.int32()), _list(_value("int32")), "(V,) camera draws until the body was framed"),
    "age_years": (_F32, _value("float32"), "the age the body's shape depicts, years (NaN for shape spaces without age)"),
    "image_width": (pa.int32(), _value("int32"), "pixels"),
    "image_height": (pa.int32(), _value("int32"), "pixels"),
}

_MEASUREMENT_DOCS = {
    "height_m": "neutral-pose height, meters",
    "neck_circumference_m": "neck circumference below the larynx, normal to the neck, meters (tape: convex hull of the section)",
    "chest_circumference_m": "chest circumference at the bust point, horizontal, meters (tape)",
    "waist_circumference_m": "natural (narrowest) waist circumference, horizontal, meters (tape)",
    "waist_navel_circumference_m": "waist circumference at the navel (omphalion, ANSUR II), horizontal, meters (tape)",
    "waist_iliac_circumference_m": "waist circumference at the iliac crest (NHANES), horizontal, meters (tape)",
    "hip_circumference_m": "hip circumference at the buttocks' greatest protrusion, horizontal, meters (tape)",
    "thigh_circumference_m": "left thigh circumference at the gluteal furrow, normal to the femur, meters (tape)",
    "calf_circumference_m": "left calf circumference, the largest normal to the shank, meters (tape)",
    "upper_arm_circumference_m": "left mid-upper-arm circumference, normal to the humerus, meters (tape)",
    "volume_m3": "body volume, cubic meters",
    "mass_kg": "(volume - 2.4 L lung gas) x Siri density at the body fat (RFM), kilograms (synth.measurements)",
    "bmi_kg_m2": "mass / height^2, kg/m^2",
    "body_fat_pct": "Relative Fat Mass (Woolcott & Bergman 2018): 64 - 20 height / iliac waist + 12 female, percent "
                    "(an anthropometric estimate of DXA body fat, not a measurement)",
    "body_fat_navy_pct": "US Navy circumference estimate, percent (anthropometric; NaN outside 0-75 %)",
}
COLUMNS.update({name: (_F32, _value("float32"), doc) for name, doc in _MEASUREMENT_DOCS.items()})

PHOTO_COLUMNS: dict[str, tuple[pa.DataType, dict, str]] = {
    "photos": (pa.list_(_IMAGE), _list({"_type": "Image"}),
               "(V,) photo-like JPEG renders, H x W RGB, same cameras as the silhouettes (photo.enabled only)"),
}

_PEOPLE_ORDER = "in synth.population.people.MEASURES order (height_m, mass_kg, then the circumferences)"
PEOPLE_COLUMNS: dict[str, tuple[pa.DataType, dict, str]] = {
    "person_id": (pa.string(), _value("string"), "the measured person's id in the people table (shape.people only)"),
    "person_targets": (pa.list_(_F32), _list(_value("float32")),
                       f"(M,) the person's measurements, SI units, NaN where not measured, {_PEOPLE_ORDER}"),
    "person_residuals": (pa.list_(_F32), _list(_value("float32")),
                         f"(M,) the body's label minus the person's measurement, SI units, {_PEOPLE_ORDER}"),
}

COLUMN_DOCS: dict[str, str] = {name: doc for name, (_, _, doc) in (COLUMNS | PHOTO_COLUMNS | PEOPLE_COLUMNS).items()}


def shard_schema(photos: bool = False, people: bool = False) -> pa.Schema:
    """The Arrow schema of every shard (with the `photos` column when the job renders
    photos, the `person_*` columns when its bodies are measured people), with
    `huggingface` and `synth` metadata."""
    columns = COLUMNS | (PHOTO_COLUMNS if photos else {}) | (PEOPLE_COLUMNS if people else {})
    features = {name: feature for name, (_, feature, _) in columns.items()}
    metadata = {
        "huggingface": json.dumps({"info": {"features": features}}),
        "synth": json.dumps({"schema_version": SCHEMA_VERSION,
                             "columns": {name: doc for name, (_, _, doc) in columns.items()}}),
    }
    return pa.schema([(name, dtype) for name, (dtype, _, _) in columns.items()], metadata=metadata)
