"""Converters: LCE TFLite export and the x86 bitwise path (issue 4; not built yet)."""
