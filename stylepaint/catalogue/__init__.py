"""Published models: the catalogue data file and the download manager.

* ``registry``: load and validate ``resources/catalogue.json`` (or ``$STYLEPAINT_CATALOGUE``);
* ``download``: the resumable, checksummed, locked download job (a progress generator);
* ``http``: urllib with connect/read timeouts, a bounded DNS lookup and environment proxies;
* ``store``: what is installed in the user cache folder; download, remove, resolve names.

Nothing here imports torch or Qt.
"""

from stylepaint.catalogue.download import download_file
from stylepaint.catalogue.http import Timeouts
from stylepaint.catalogue.registry import Catalogue, Entry, Licence, load_catalogue
from stylepaint.catalogue.store import ModelStore, models_dir, resolve_model

__all__ = ["Catalogue", "Entry", "Licence", "ModelStore", "Timeouts", "download_file",
           "load_catalogue", "models_dir", "resolve_model"]
