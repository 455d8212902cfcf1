"""The fninfer Functions app: every trigger lives in a Blueprint under functions/, registered here."""

import azure.functions as func

from functions import (
    batch,
    data,
    drops,
    environments,
    management,
    publishing,
    run_history,
    schedules,
    scoring,
    services,
    studio,
    warmup,
    workspace,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# The app's surface, in one explicit list. Routes are matched in registration order, as the Functions host does.
# The API (described by /api/openapi.json), then the studio's pages, which are HTML for people, not part of it.
API_BLUEPRINTS = (
    management.bp,
    data.bp,
    environments.bp,
    services.bp,
    scoring.bp,
    batch.bp,
    publishing.bp,
    schedules.bp,
    run_history.bp,
    drops.bp,
    workspace.bp,
    warmup.bp,
)
BLUEPRINTS = (*API_BLUEPRINTS, studio.bp)
for bp in BLUEPRINTS:
    app.register_functions(bp)
