"""smneo.artifact: reproducible model.tar.gz packing, layout checks, safe
extraction and BLAKE2 digests (the core's artifact module).

    from smneo import artifact
    r = artifact.pack("model_dir", "model.tar.gz")      # r.path, r.size, r.digest
    info = artifact.inspect("model.tar.gz", framework="PYTORCH")
    artifact.extract("compiled.tar.gz", "out_dir")
    artifact.verify("compiled.tar.gz", job["ModelDigests"]["ArtifactDigest"])

The GIL is released while packing, extracting and hashing; progress callbacks
(progress(done, total)) run with it held, and raising from one cancels the
work (nothing half-written is left behind). Ctrl-C cancels too.
Errors: smneo.ArtifactError (a ValueError) and its subclasses
smneo.UnsafeArchiveError and smneo.DigestMismatchError; OSError for files.
"""
import os
from typing import NamedTuple, Optional

from . import _errors, _smneo

__all__ = ["pack", "inspect", "extract", "digest", "verify", "PackResult", "Member", "Inspection",
           "ArtifactError", "UnsafeArchiveError", "DigestMismatchError"]



def __getattr__(name):
    # ArtifactError, UnsafeArchiveError, DigestMismatchError: made on first use (smneo._errors)
    if name in ("ArtifactError", "UnsafeArchiveError", "DigestMismatchError"):
        return _errors.classes()[name]
    raise AttributeError("module 'smneo.artifact' has no attribute %r" % name)


DEFAULT_MAX_BYTES = _smneo.ARTIFACT_DEFAULT_MAX_BYTES
DEFAULT_MAX_ENTRIES = _smneo.ARTIFACT_DEFAULT_MAX_ENTRIES
DEFAULT_MAX_RATIO = _smneo.ARTIFACT_DEFAULT_MAX_RATIO


class PackResult(NamedTuple):
    path: str
    size: int
    digest: str  # BLAKE2b-512, 128 lowercase hex digits


class Member(NamedTuple):
    name: str
    type: str  # "file", "directory", "symlink", "hardlink", "other"
    size: int
    linkname: Optional[str] = None


class Inspection(NamedTuple):
    members: list
    single_gzip_member: bool
    issues: list  # smneo.Issue(severity, path, rule, message)


def pack(source, dest, *, compresslevel=6, threads=None, progress=None, base_dir=None):
    """Packs a directory (or a list of paths relative to base_dir / the current
    directory) into a reproducible gzip-compressed tar at dest. Returns
    PackResult(path, size, digest); the digest is computed while writing."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError("threads must be a positive int or None, not %r" % (threads,))
    if not isinstance(source, (list, tuple)):
        source = os.fspath(source)
    return PackResult(*_smneo._artifact_pack(source, dest, compresslevel, threads or 0, progress, base_dir))


def _limits(max_bytes, max_entries, max_ratio):
    """The core's (max_bytes, max_entries, max_ratio); 0 for its default."""
    for name, value in (("max_bytes", max_bytes), ("max_entries", max_entries)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError("%s must be a positive int or None, not %r" % (name, value))
    if max_ratio is not None and not max_ratio > 0:
        raise ValueError("max_ratio must be a positive number or None, not %r" % (max_ratio,))
    return max_bytes or 0, max_entries or 0, float(max_ratio or 0)


def inspect(path, framework=None, target=None, compiler_options=None, *, max_bytes=None, max_entries=None,
            max_ratio=None):
    """Lists the archive's members and checks the model layout for a framework
    ("PYTORCH", "TENSORFLOW", ...; None: no check). Findings are Issues; they
    do not raise. The archive is decompressed under extract's limits (a gzip
    bomb raises UnsafeArchiveError)."""
    members, single, issues = _smneo._artifact_inspect(path, framework, target, compiler_options,
                                                       *_limits(max_bytes, max_entries, max_ratio))
    return Inspection([Member(*m) for m in members], single, issues)


def extract(path, dest_dir, *, max_bytes=None, max_entries=None, max_ratio=None, progress=None):
    """Extracts safely into dest_dir (absent or empty): absolute paths, "..",
    links leaving it, device nodes and FIFOs are refused, as are archives over
    the limits (defaults: DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_RATIO). On any error nothing is left behind."""
    _smneo._artifact_extract(path, dest_dir, *_limits(max_bytes, max_entries, max_ratio), progress)
    return os.fspath(dest_dir)


def digest(path, algorithm="blake2b", *, progress=None):
    """Hex digest of a file: blake2b (512), blake2b-256, blake2s, sha256, sha512."""
    return _smneo._artifact_digest(path, algorithm, progress)


def verify(path, expected, *, progress=None):
    """Checks a file against a digest (128 hex: BLAKE2b-512; 64 hex: BLAKE2b-256
    or BLAKE2s-256; or "algorithm:hex"). Raises DigestMismatchError on a
    mismatch, ValueError when expected cannot be interpreted."""
    _smneo._artifact_verify(path, expected, progress)
