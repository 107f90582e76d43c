"""Access to the protobuf classes generated from proto/vsetd/v1/vsetd.proto.

vsetd_pb2 is never written by hand nor committed: `pip install` runs protoc
on the proto (see setup.py), and the tests generate it into their build
directory.  The service's methods are read from the generated descriptor, so
a method added to the proto is callable (Client.call) without any change
here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Type

try:
    from . import vsetd_pb2 as pb
except ImportError as e:  # pragma: no cover - a packaging error, not a runtime one
    raise ImportError(
        "vsetd: the generated module vsetd/vsetd_pb2.py is missing.  It is made "
        "at build time by `protoc --python_out` from proto/vsetd/v1/vsetd.proto: "
        "install the package with pip from the vsetd source tree "
        "(pip install --no-build-isolation ./clients/python), which runs protoc."
    ) from e

from google.protobuf.message import Message

__all__ = ["pb", "Method", "SERVICE", "METHODS", "Message"]

SERVICE = "VectorService"


@dataclass(frozen=True)
class Method:
    name: str                       # "Search"
    path: str                       # "/vsetd.v1.VectorService/Search"
    request_type: Type[Message]
    response_type: Type[Message]


def _message_class(name: str) -> Type[Message]:
    # Request and response messages are top-level in the proto.
    cls = getattr(pb, name, None)
    if cls is None:  # pragma: no cover - would mean a nested message type
        raise ImportError(f"vsetd_pb2 has no message class {name}")
    return cls  # type: ignore[no-any-return]


def _methods() -> Dict[str, Method]:
    svc = pb.DESCRIPTOR.services_by_name[SERVICE]
    out: Dict[str, Method] = {}
    for m in svc.methods:
        out[m.name] = Method(m.name, f"/{svc.full_name}/{m.name}",
                             _message_class(m.input_type.name),
                             _message_class(m.output_type.name))
    return out


# Every RPC of the service, by short name ("Insert", "Delete", "Search", ...).
METHODS: Dict[str, Method] = _methods()
