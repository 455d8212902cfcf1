"""fninfer studio: the workspace as web pages served by the app itself (`/api/studio`).

functions/studio.py adapts HTTP (routes, sign-in, forms); `views` gathers what each page shows from the same shared/
functions the API calls; `charts` lays out charts and the pipeline graph; `render` fills the Jinja2 templates
(templates/), with the CSS and the little JavaScript (static/) shipped in the app: no build step, no CDN.
"""
