"""vCard folders (vdir): export, import and continuous two-way watch."""

from .importer import ImportReport, import_path
from .mirror import ExportReport, FolderMirror
from .watch import FolderWatcher, WatchOptions

__all__ = [
    "ExportReport",
    "FolderMirror",
    "FolderWatcher",
    "ImportReport",
    "WatchOptions",
    "import_path",
]
