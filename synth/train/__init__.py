"""The bundled trainer: silhouettes from several views -> body shape, pose and camera."""
