"""FHIR transaction bundles: conditional creates/updates keyed on the resources' identifiers.

A ``transaction`` bundle (``export --fhir-bundle transaction``, the default)
gives each entry a ``request``: ``PUT <Type>?identifier=<system>|<value>``, a
conditional update, which a FHIR server applies as a create when no resource
has that identifier and as an update of the one that has it. Re-submitting an
export therefore updates the Patient, ImagingStudy, DiagnosticReport and
Observations it created the first time instead of adding duplicates. The keys:

- Patient: ``urn:reportlab-nlp:case-id|<case id>``;
- ImagingStudy: ``urn:dicom:uid|urn:oid:<StudyInstanceUID>``;
- DiagnosticReport: ``urn:reportlab-nlp:report-id|<report id>``;
- Observation: ``urn:reportlab-nlp:observation-id|<report id>/<label or category>``.

References between entries use their ``urn:uuid:`` full URLs, which the
server replaces with the ids it assigns. A ``collection`` bundle carries no
requests (a document to store, not to submit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

BUNDLE_TYPES = ("transaction", "collection")


def identifier_key(resource: Mapping[str, Any]) -> tuple[str, str]:
    """The (system, value) of the first identifier with a system (the conditional key)."""
    for ident in resource.get("identifier", []):
        if ident.get("system") and ident.get("value"):
            return str(ident["system"]), str(ident["value"])
    raise ValueError(f"{resource.get('resourceType')}: no identifier to key a conditional update on")


def conditional_url(resource: Mapping[str, Any]) -> str:
    """``<Type>?identifier=<system>|<value>`` (system and value percent-encoded)."""
    system, value = identifier_key(resource)
    return f"{resource['resourceType']}?identifier={quote(system, safe=':/')}|{quote(value, safe='')}"


def as_transaction(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with a conditional-update ``request`` each and without resource ids."""
    out = []
    for entry in entries:
        resource = {k: v for k, v in entry["resource"].items() if k != "id"}
        out.append(
            {
                "fullUrl": entry["fullUrl"],
                "resource": resource,
                "request": {"method": "PUT", "url": conditional_url(resource)},
            }
        )
    return out


__all__ = ["BUNDLE_TYPES", "as_transaction", "conditional_url", "identifier_key"]
