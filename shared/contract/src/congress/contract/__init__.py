"""The public event contract: the envelope and one marshmallow schema per event type and version.

Other systems, in any language, subscribe to these events; `asyncapi.py` renders this module
as an AsyncAPI document. A version only ever gains optional fields; any other change is a new
version published alongside the old one.
"""

from congress.contract.catalogue import CATALOGUE, UnknownEventType, data_schema
from congress.contract.envelope import Envelope, EnvelopeSchema, new_envelope

__all__ = [
    "CATALOGUE",
    "Envelope",
    "EnvelopeSchema",
    "UnknownEventType",
    "data_schema",
    "new_envelope",
]
