"""Dataset layout: schema, atomic shard writing, manifest, verification, preview."""
