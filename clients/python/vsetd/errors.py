"""Exceptions: one class per gRPC status code (vsetd.v1.Code).

Every failed call raises a subclass of VsetdError, so callers can catch
exactly the codes they handle (``except vsetd.Unavailable``) or all of them
(``except vsetd.VsetdError``).  Transport failures map onto the same codes:
a server that cannot be reached is Unavailable, a reply that does not come
in time is DeadlineExceeded.

The code numbers are spelled out here (not read from the generated module)
so that the errors can be imported and caught without protobuf.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Type

__all__ = [
    "CODE_NAMES", "VsetdError", "error_for",
    "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted",
    "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
    "Internal", "Unavailable", "DataLoss", "Unauthenticated",
]

# The wire numbers of vsetd.v1.Code (gRPC's).
CODE_NAMES: Dict[int, str] = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
    10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL",
    14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}


class VsetdError(Exception):
    """A call failed with a status code other than OK.

    code     -- the code's name, e.g. "INVALID_ARGUMENT"
    message  -- the server's (or transport's) explanation
    result   -- for Insert/Delete failing with UNAVAILABLE or
                DEADLINE_EXCEEDED: the WriteResult saying which items were
                written; otherwise None
    """

    code: str = "UNKNOWN"

    def __init__(self, code: str, message: str, *, result: Optional[Any] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.result = result

    def __reduce__(self) -> Any:  # picklable despite the custom __init__
        return (error_for, (self.code, self.message, self.result))


class _CodeError(VsetdError):
    """Base of the per-code classes: the code is fixed by the class."""

    def __init__(self, message: str, *, result: Optional[Any] = None) -> None:
        super().__init__(type(self).code, message, result=result)


class Cancelled(_CodeError):
    code = "CANCELLED"


class Unknown(_CodeError):
    code = "UNKNOWN"


class InvalidArgument(_CodeError):
    code = "INVALID_ARGUMENT"


class DeadlineExceeded(_CodeError):
    code = "DEADLINE_EXCEEDED"


class NotFound(_CodeError):
    code = "NOT_FOUND"


class AlreadyExists(_CodeError):
    code = "ALREADY_EXISTS"


class PermissionDenied(_CodeError):
    code = "PERMISSION_DENIED"


class ResourceExhausted(_CodeError):
    code = "RESOURCE_EXHAUSTED"


class FailedPrecondition(_CodeError):
    code = "FAILED_PRECONDITION"


class Aborted(_CodeError):
    code = "ABORTED"


class OutOfRange(_CodeError):
    code = "OUT_OF_RANGE"


class Unimplemented(_CodeError):
    code = "UNIMPLEMENTED"


class Internal(_CodeError):
    code = "INTERNAL"


class Unavailable(_CodeError):
    code = "UNAVAILABLE"


class DataLoss(_CodeError):
    code = "DATA_LOSS"


class Unauthenticated(_CodeError):
    code = "UNAUTHENTICATED"


_BY_NAME: Dict[str, Type[_CodeError]] = {
    cls.code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound,
                AlreadyExists, PermissionDenied, ResourceExhausted,
                FailedPrecondition, Aborted, OutOfRange, Unimplemented,
                Internal, Unavailable, DataLoss, Unauthenticated)
}


def code_name(number: int) -> str:
    """The name of a wire code; "UNKNOWN" for numbers outside the set (a
    newer server's code is still an error, just not a named one)."""
    return CODE_NAMES.get(number, "UNKNOWN")


def error_for(code: str, message: str, result: Optional[Any] = None) -> VsetdError:
    """The exception instance for a code name."""
    cls = _BY_NAME.get(code)
    if cls is None:
        return VsetdError(code, message, result=result)
    return cls(message, result=result)
