"""Radicale with the bridge's WSGI wrapper, for a plain Radicale 3.9 behind any WSGI server.

The wrapper keeps each card exactly as the client sent it (Radicale alone re-serializes it
through vobject), accepts cards without FN, and streams listings from the store instead of
building them in memory. Load ``application`` from this file with any WSGI server:

    gunicorn --threads 8 --chdir /path/to/examples bridge_wsgi:application
    uwsgi --http 127.0.0.1:5232 --threads 8 --wsgi-file /path/to/examples/bridge_wsgi.py
    mod_wsgi: WSGIScriptAlias / /path/to/examples/bridge_wsgi.py

or run it (``python3 bridge_wsgi.py``) to serve it with the standard library's wsgiref, on the
first address of the configuration's ``[server] hosts``: enough to try it, not for production.

The configuration is Radicale's own file, the one ``python -m radicale`` reads: the path in
the environment variable ``RADICALE_CONFIG`` (default: /etc/radicale/config, then
~/.config/radicale/config). It names the bridge's storage (``[storage] type =
radicale_plugin``, ``bridge_config = ...``) as in the README, "Inside an existing Radicale".
"""

from __future__ import annotations

import os
import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from radicale import config, log
from radicale.app import Application

from bridge.front.app import Front
from radicale_plugin.wsgi import BridgeMiddleware


def load_configuration() -> Any:
    """Radicale's configuration, found as Radicale's own WSGI entry point finds it."""
    paths = config.parse_compound_paths(
        config.DEFAULT_CONFIG_PATH, os.environ.get("RADICALE_CONFIG")
    )
    configuration = config.load(paths)
    log.setup()
    log.set_level(
        configuration.get("logging", "level"),
        configuration.get("logging", "backtrace_on_debug"),
        configuration.get("logging", "trace_filter"),
    )
    return configuration


configuration = load_configuration()
# The bridge's front bounds request bodies; its doors (the status page, webhooks,
# WebDAV-Push) are ``aurinko-bridge serve``'s, so here it hands every request to CardDAV.
application = Front(BridgeMiddleware(Application(configuration)))


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a client holding a connection open does not keep Ctrl-C waiting


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Radicale logs each request itself; wsgiref's own line would repeat it."""


def main() -> None:
    host, port = configuration.get("server", "hosts")[0]
    server = make_server(
        host, int(port), application, ThreadingWSGIServer, handler_class=QuietHandler
    )
    print(f"Radicale with the bridge's wrapper at http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
