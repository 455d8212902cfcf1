"""fninfer's local Azure Functions host: `fninfer start` runs `function_app.py` with the Functions host's semantics.

It runs on a developer's machine or in CI, never in the deployed app (Azure runs the real host; `.funcignore` leaves
this package out of the zip), and it imports nothing of the app or the SDK (`shared`, `functions`, `function_app`,
`fninfer`): like the real host it knows an app only through what is documented, the app settings it reads and sets
(settings.py), the storage names of the Functions host's own state (storage_names.py), and the workspace config file
it writes for the SDK (workspace_config.py). `make lint` checks that with import-linter ([tool.importlinter]).

    supervisor.py   `fninfer start`: Azurite (azurite.py), N instances, the workspace config
    instance.py     one host process: indexing.py, routing.py and http_server.py (HTTP), admin.py (/admin),
                    listeners.py (queues.py, timers.py, blobs.py, leases.py), invoker.py, logs.py
    storage.py      the few blob and queue operations the host's own state and listeners need
    testing.py      run_host: a real `fninfer start` in the background, for tests, benchmarks and CI
"""
