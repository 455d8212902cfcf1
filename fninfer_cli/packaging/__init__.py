"""`fninfer package`: the app as one zip that Azure Functions runs as it is (zip deploy or run-from-package).

files.py         the app's files, as `.funcignore` leaves them
dependencies.py  requirements.txt pinned, and the wheels for the target installed into .python_packages
baking.py        registered models and deployed services copied in, so a cold start need not download them
archive.py       the zip, byte for byte the same for the same inputs
build.py         all of it, and the report `fninfer package` prints

Unlike the local host (`fninfer_host`), the packager imports the app's domain (`shared`): it reads the registry to
bake registered models, deployed services and their environments in. The SDK's `Model.package` builds with it too.
"""
