"""The HTTP/1.1 server both the CardDAV front and the sandbox run on; it knows nothing of
either.

A connection serves requests until the client closes it, idles past its idle timeout, sends
``Connection: close``, or gets an answer whose end only the connection's close can mark:
clients send bursts of small requests (a CardDAV sync is a REPORT and then multigets, GETs and
PUTs; the engine's pushes are PATCH after PATCH), and a new TCP connection and thread per
request costs more than serving a GET.

What a client cannot do (issue 11): hold a connection with a request trickled a byte at a
time (a request, headers and body, must arrive within ``request_timeout`` of its first
byte), open connections without bound (past ``max_connections`` the oldest connection still
waiting for its request headers makes way), or get a ``100 Continue`` for a body the
application never reads (the interim answer leaves on the body's first read).

``connections`` keeps the connections, ``head`` reads a request's head, ``body`` its body,
and ``response`` runs the WSGI application and writes its answer.
"""

from .body import read_body
from .connections import RequestHandler, ServerLimits, ThreadingServer
from .response import ResponseHandler

__all__ = ["RequestHandler", "ResponseHandler", "ServerLimits", "ThreadingServer", "read_body"]
