"""The bundled Python inference pool: OpenVINO, ONNX Runtime and CoreML behind one wire protocol.

See docs/protocol.md (normative) for the framing and message layouts.
"""

__all__ = ["PROTOCOL_VERSION"]

PROTOCOL_VERSION = 2
