"""The Qt editor. Importing this package applies ``qtfix`` (a PySide6 reference-count repair)."""

from stylepaint.gui import qtfix as _qtfix

_qtfix.apply()
