"""The public JSON API a blog front-end calls (``/api/v1``) and ``/healthz``."""
