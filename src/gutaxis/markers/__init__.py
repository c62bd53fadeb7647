"""Lab markers of the gut barrier, microbial translocation and inflammation.

Values with units, read from sample metadata (:func:`marker_panel`) or from a
lab's results file (:func:`read_labs`, ``LABS.csv``), linked to the marker
catalogue of the knowledge base (:mod:`gutaxis.knowledge`), and judged
against the lab's range or a published cut-off (:func:`interpret_result`).

Public names: :class:`MarkerColumn`, :class:`MarkerPanel`, :func:`marker_panel`,
:func:`read_marker_specs`, :class:`MarkerResult`, :class:`LabResults`,
:func:`read_labs`, :func:`interpret_marker`, :func:`interpret_result`, and the
unit helpers :class:`Unit`, :func:`parse_unit`, :func:`conversion_factor`,
:func:`convert`.
"""

from gutaxis.markers._panel import MarkerColumn, MarkerPanel, marker_panel, read_marker_specs
from gutaxis.markers._result import MarkerResult
from gutaxis.markers.interpret import UNJUDGED_NOTE, interpret_marker, interpret_result
from gutaxis.markers.labs import LabResults, read_labs
from gutaxis.markers.units import Unit, conversion_factor, convert, parse_unit

__all__ = ["MarkerColumn", "MarkerPanel", "marker_panel", "read_marker_specs", "MarkerResult",
           "LabResults", "read_labs", "interpret_marker", "interpret_result", "Unit",
           "parse_unit", "conversion_factor", "convert", "UNJUDGED_NOTE"]
