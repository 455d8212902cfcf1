"""The `fninfer` command's own package: what runs on a developer's machine or in CI, never in the deployed app.

main.py is the command (`fninfer`, `python -m fninfer_cli`); packaging/ builds the zip (`fninfer package`); the local
host it starts is a package of its own, fninfer_host.

`fninfer_cli/data/azureml_surface.json` is the real Azure ML SDK v1's public surface (names, kinds, signatures),
dumped by tools/dump_azureml_surface.py: what the migration tools and the SDK's coverage test read instead of an
azureml install.
"""
