"""Checksums S3 accepts in x-amz-checksum-* headers, in pure Python.

CRC32 comes from zlib; CRC32C and CRC64/NVME use 256-entry tables (slow
next to the SDKs' C implementations, but fine for a local endpoint).
"""
import base64
import hashlib
import zlib


def _table(poly, width):
    mask = (1 << width) - 1
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & mask)
    return table


_CRC32C_TABLE = _table(0x82F63B78, 32)
_CRC64NVME_TABLE = _table(0x9A6C9329AC4BC9B5, 64)


class _Crc:
    width = 32
    table = None

    def __init__(self):
        self._crc = (1 << self.width) - 1

    def update(self, data):
        crc = self._crc
        t = self.table
        for b in bytes(data):
            crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self):
        v = self._crc ^ ((1 << self.width) - 1)
        return v.to_bytes(self.width // 8, "big")


class Crc32c(_Crc):
    width = 32
    table = _CRC32C_TABLE


class Crc64Nvme(_Crc):
    width = 64
    table = _CRC64NVME_TABLE


class Crc32:
    def __init__(self):
        self._crc = 0

    def update(self, data):
        self._crc = zlib.crc32(data, self._crc)

    def digest(self):
        return (self._crc & 0xFFFFFFFF).to_bytes(4, "big")


ALGORITHMS = {
    "crc32": Crc32,
    "crc32c": Crc32c,
    "crc64nvme": Crc64Nvme,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}

# Algorithms whose full-object value can be given for a multipart upload.
CRC_ALGORITHMS = ("crc32", "crc32c", "crc64nvme")


def new(algorithm):
    """A hasher object for a lower-case algorithm name, or KeyError."""
    return ALGORITHMS[algorithm]()


def b64(algorithm, data):
    """Base64 of the checksum of bytes, as S3 writes it in headers."""
    h = new(algorithm)
    h.update(data)
    return base64.b64encode(h.digest()).decode("ascii")


def b64_file(algorithm, path, bufsize=1 << 20):
    h = new(algorithm)
    with open(path, "rb") as f:
        while True:
            chunk = f.read(bufsize)
            if not chunk:
                break
            h.update(chunk)
    return base64.b64encode(h.digest()).decode("ascii")
