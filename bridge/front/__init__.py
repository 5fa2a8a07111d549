"""The bridge's one HTTP front: it routes the bridge's own doors (the status page under
``/.bridge/``, Aurinko's webhooks, WebDAV-Push registration), bounds request bodies, and
hands every other request to the CardDAV application (Radicale and the plugin's wrapper,
built by ``radicale_plugin`` and given to ``compose``).

``seams`` says what the front and the CardDAV side ask of each other (``wsgi``: the shapes
they share); ``app`` is the front itself, ``compose`` puts the doors and the CardDAV side
together, ``server`` runs the result on ``bridge.httpserver``. Nothing here imports
Radicale. This ``__init__`` imports ``seams`` alone: the doors import it too (``bridge.push``
takes a ``Login``), and the CardDAV wrapper imports it without the doors.
"""

from .seams import AnswerHooks, CardDAV, Login

__all__ = ["AnswerHooks", "CardDAV", "Login"]
