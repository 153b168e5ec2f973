"""The admin web console under `/console`: server-rendered pages for platform and department admins.

    settings.py   the `console` configuration section (imported by gateway.config: keep it light)
    plugin.py     ConsolePlugin: mounts the routes, the static files and the templates on the app
    state.py      Console: what one worker keeps for the console (session codec, usage cache)
    sessions.py   signed, self-contained session cookies (no server-side state)
    csrf.py       tokens bound to the session (or to a sign-in cookie) and the guard that checks them
    auth.py       sign-in, sign-out, and the session -> administrator check run on every page
    access.py     who may see or change what: the Casbin decisions the admin API takes
    render.py     the page helper: shared context, security headers, error pages
    i18n.py       labels in French and English, number and date formats
    charts.py     SVG charts drawn on the server (stacked bars, budget bars)
    usage.py      usage figures for the pages, from the metering reports
    auditlog.py   the audit files read newest first, filtered, paged, bounded
    pages/        one module per page: overview, department, requests, keys, backends, policies
    templates/    Jinja2 templates          static/   the style sheet and the one small script

Nothing is imported here, so that `gateway.config` can import the settings without the rest.
"""
