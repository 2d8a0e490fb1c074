"""The HTTP faces of eirc (Starlette, served by uvicorn):

- `app.py` — the application: `/graphql` (GraphiQL in a browser), the journeys' browser endpoints, health;
- `guard.py` — the ASGI middleware at the door: request ids, sizes, content types, broken requests → 4xx;
- `confirm_email.py` — `GET /confirm-email?token=…`, the link in the confirmation letter;
- `gosuslugi.py` — `GET /auth/gosuslugi/login` and `/auth/gosuslugi/callback`;
- `server.py` — `eirc serve`: uvicorn around the app, one or several gateway processes.
"""
