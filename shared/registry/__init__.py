"""The registry: models, datasets, datastores, environments, compute, code snapshots, the workspace record."""
