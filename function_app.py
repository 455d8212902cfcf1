"""The fninfer Functions app: every trigger lives in a Blueprint under functions/, registered here."""

import azure.functions as func

from functions import api, studio

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# The app's surface: the API (functions/api.py, in its order), then the studio's pages, which are HTML for people,
# not part of it. Routes are matched in registration order, as the Functions host does.
BLUEPRINTS = (*api.API_BLUEPRINTS, studio.bp)
for bp in BLUEPRINTS:
    app.register_functions(bp)
