"""The `fninfer` command's own package: what runs on a developer's machine or in CI, never in the deployed app.

`fninfer_cli/data/azureml_surface.json` is the real Azure ML SDK v1's public surface (names, kinds, signatures),
dumped by tools/dump_azureml_surface.py: what the migration tools and the SDK's coverage test read instead of an
azureml install.
"""
