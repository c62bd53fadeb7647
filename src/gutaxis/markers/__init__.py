"""Lab markers of the gut barrier, microbial translocation and inflammation.

Values with units, read from sample metadata and linked to the marker
catalogue of the knowledge base (:mod:`gutaxis.knowledge`).

Public names: :class:`MarkerPanel`, :func:`marker_panel`,
:func:`read_marker_specs`, and the unit helpers :func:`parse_unit`,
:func:`conversion_factor`, :func:`convert`.
"""

from gutaxis.markers._panel import MarkerPanel, marker_panel, read_marker_specs
from gutaxis.markers.units import Unit, conversion_factor, convert, parse_unit

__all__ = ["MarkerPanel", "marker_panel", "read_marker_specs", "Unit", "parse_unit",
           "conversion_factor", "convert"]
