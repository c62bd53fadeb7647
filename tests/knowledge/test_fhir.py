"""fhir.yaml: the gutaxis CodeSystem's own concepts."""

from __future__ import annotations

import pytest

from gutaxis.exceptions import FormatError
from gutaxis.knowledge import load_fhir_knowledge


def test_the_shipped_file_loads_with_sources():
    kb = load_fhir_knowledge()
    assert kb.code_system.url == "https://gutaxis.org/fhir/CodeSystem/gutaxis"
    codes = [c.code for c in kb.concepts]
    assert codes == ["profile", "lab-results", "range:catalogue", "range:reference",
                     "index:shannon_entropy", "percentile",
                     "percentile-interval", "reference-n"]
    shannon = next(c for c in kb.concepts if c.code == "index:shannon_entropy")
    assert shannon.sources[0].doi == "10.1002/j.1538-7305.1948.tb01338.x"


def test_a_code_given_twice_is_refused(tmp_path):
    text = (tmp_path / "f.yaml")
    text.write_text("""schema_version: 1
version: "1"
code_system: {url: "https://x.org/cs", name: X, title: x, publisher: x, description: x}
concepts:
  - {code: a, display: aaa, definition: a definition, sources: [{citation: "A source", url: "https://x.org"}]}
  - {code: a, display: aaa, definition: a definition, sources: [{citation: "A source", url: "https://x.org"}]}
""")
    with pytest.raises(FormatError, match="codes given twice"):
        load_fhir_knowledge(text)
