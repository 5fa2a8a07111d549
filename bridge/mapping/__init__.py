"""vCard <-> Aurinko contact mapping, with nothing lost (see MAPPING.md beside this file).

No I/O and no knowledge of Radicale or HTTP: text in, JSON out, and back.
"""

from .diff import diff
from .errors import MappingError
from .identity import UID_NAMESPACE, derive_uid
from .limits import DEFAULT_LIMITS, Limits
from .parse import ParsedCard, from_vcard
from .render import SERVED_VERSIONS, to_vcard
from .schema import READ_ONLY_FIELDS, WRITABLE_FIELDS, normalize

read_only_fields = READ_ONLY_FIELDS

__all__ = [
    "DEFAULT_LIMITS",
    "READ_ONLY_FIELDS",
    "SERVED_VERSIONS",
    "UID_NAMESPACE",
    "WRITABLE_FIELDS",
    "Limits",
    "MappingError",
    "ParsedCard",
    "derive_uid",
    "diff",
    "from_vcard",
    "normalize",
    "read_only_fields",
    "to_vcard",
]
