"""smneo.artifact (the binding of the core's artifact module): pack, inspect,
extract, digest, verify; errors, progress callbacks, cancellation."""
import hashlib
import io
import json
import os
import tarfile
import threading
import time

import pytest

import smneo
from smneo import artifact


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "model"
    (d / "code").mkdir(parents=True)
    (d / "model.pth").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    (d / "code" / "inference.py").write_text("def model_fn(d):\n    return d\n")
    return d


def test_pack_round_trip_and_digest(model_dir, tmp_path):
    dest = tmp_path / "model.tar.gz"
    seen = []
    r = artifact.pack(model_dir, dest, progress=lambda done, total: seen.append((done, total)))
    assert r.path == str(dest) and r.size == dest.stat().st_size
    assert r.digest == hashlib.blake2b(dest.read_bytes()).hexdigest()
    assert seen and seen[-1][0] == seen[-1][1]
    with tarfile.open(dest) as tf:
        names = sorted(m.name.rstrip("/") for m in tf.getmembers())
        assert names == ["code", "code/inference.py", "model.pth"]
        assert tf.extractfile("model.pth").read() == (model_dir / "model.pth").read_bytes()
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in tf.getmembers())
    assert artifact.digest(dest) == r.digest
    assert artifact.digest(dest, "sha256") == hashlib.sha256(dest.read_bytes()).hexdigest()
    artifact.verify(dest, r.digest)
    artifact.verify(dest, "sha256:" + hashlib.sha256(dest.read_bytes()).hexdigest())


def test_pack_is_reproducible(model_dir, tmp_path):
    a = artifact.pack(model_dir, tmp_path / "a.tar.gz")
    os.utime(model_dir / "model.pth", (1, 1))
    b = artifact.pack(model_dir, tmp_path / "b.tar.gz", threads=1)
    assert a.digest == b.digest
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


def test_pack_list_of_files(model_dir, tmp_path):
    r = artifact.pack(["model.pth", "code"], tmp_path / "l.tar.gz", base_dir=model_dir)
    names = sorted(m.name.rstrip("/") for m in artifact.inspect(r.path).members)
    assert names == ["code", "code/inference.py", "model.pth"]


def test_verify_mismatch_and_bad_digest(model_dir, tmp_path):
    r = artifact.pack(model_dir, tmp_path / "m.tar.gz")
    with pytest.raises(smneo.DigestMismatchError) as ei:
        artifact.verify(r.path, "0" * 128)
    assert isinstance(ei.value, smneo.ArtifactError) and isinstance(ei.value, ValueError)
    assert r.digest in str(ei.value)
    with pytest.raises(ValueError):
        artifact.verify(r.path, "not-a-digest")


def test_inspect_reports_layout_issues(model_dir, tmp_path):
    (model_dir / "model.pth").write_bytes(b"\x80\x02pickled state_dict")
    r = artifact.pack(model_dir, tmp_path / "m.tar.gz")
    info = artifact.inspect(r.path, framework="PYTORCH")
    assert info.single_gzip_member is True
    assert {m.name for m in info.members if m.type == "file"} == {"code/inference.py", "model.pth"}
    errors = [i for i in info.issues if i.severity == "error"]
    assert errors and errors[0].path == "model.pth" and errors[0].rule.startswith("artifact.")
    assert "torch.jit" in errors[0].message
    with pytest.raises(ValueError):
        artifact.inspect(r.path, framework="NOT_A_FRAMEWORK")


def test_inspect_of_non_archive(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"this is not gzip")
    with pytest.raises(smneo.ArtifactError):
        artifact.inspect(p)
    with pytest.raises(OSError):
        artifact.inspect(tmp_path / "missing.tar.gz")


def test_extract_and_unsafe_archives(model_dir, tmp_path):
    r = artifact.pack(model_dir, tmp_path / "m.tar.gz")
    out = tmp_path / "out"
    artifact.extract(r.path, out)
    assert (out / "model.pth").read_bytes() == (model_dir / "model.pth").read_bytes()

    bad = tmp_path / "evil.tar.gz"
    with tarfile.open(bad, "w:gz") as tf:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    dest = tmp_path / "dest"
    with pytest.raises(smneo.UnsafeArchiveError) as ei:
        artifact.extract(bad, dest)
    assert "escape" in str(ei.value)
    assert not dest.exists() and not (tmp_path / "escape.txt").exists()
    assert sorted(os.listdir(tmp_path)) == ["evil.tar.gz", "m.tar.gz", "model", "out"]


def test_gzip_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as tf:
        info = tarfile.TarInfo("zeros")
        info.size = 64 << 20
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(smneo.UnsafeArchiveError):
        artifact.extract(bomb, tmp_path / "d")
    assert not (tmp_path / "d").exists()
    with pytest.raises(smneo.UnsafeArchiveError):
        artifact.extract(bomb, tmp_path / "d", max_ratio=1e9, max_bytes=1 << 20)
    # inspect decompresses under the same limits (it used to read a bomb whole)
    with pytest.raises(smneo.UnsafeArchiveError, match="compression ratio"):
        artifact.inspect(bomb)
    with pytest.raises(smneo.UnsafeArchiveError, match="max_bytes"):
        artifact.inspect(bomb, max_ratio=1e9, max_bytes=1 << 20)
    assert [(m.name, m.size) for m in artifact.inspect(bomb, max_ratio=1e9).members] == [("zeros", 64 << 20)]
    with pytest.raises(ValueError, match="max_bytes"):
        artifact.inspect(bomb, max_bytes=0)


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "artifacts")
with open(os.path.join(FIXTURES, "cases.json"), encoding="utf-8") as _f:
    CASES = json.load(_f)


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_fixture_cases(case, tmp_path):
    """tests/fixtures/artifacts/cases.json, as the C and Lua suites read it."""
    path = os.path.join(FIXTURES, case["file"])
    if case["members"] is None:
        with pytest.raises(smneo.ArtifactError) as ei:
            artifact.inspect(path, framework=case["framework"])
        assert not isinstance(ei.value, smneo.UnsafeArchiveError)
    else:
        info = artifact.inspect(path, framework=case["framework"])
        assert [[m.name, m.type, m.size] for m in info.members] == case["members"]
        assert info.single_gzip_member is case["single_gzip_member"]
        assert sorted(i.rule for i in info.issues) == sorted(case["rules"])
    dest = tmp_path / "out"
    errors = {"OK": None, "EUNSAFE": smneo.UnsafeArchiveError, "EARCHIVE": smneo.ArtifactError}
    if errors[case["extract"]] is None:
        artifact.extract(path, dest)
        assert dest.is_dir()
        for root, dirs, files in os.walk(dest):
            for name in dirs + files:  # never a setuid, setgid or sticky bit
                assert os.lstat(os.path.join(root, name)).st_mode & 0o7000 == 0
    else:
        with pytest.raises(errors[case["extract"]]):
            artifact.extract(path, dest)
        assert os.listdir(tmp_path) == []


def test_progress_exception_cancels_and_leaves_nothing(model_dir, tmp_path):
    def stop(done, total):
        raise KeyError("stop here")
    with pytest.raises(KeyError, match="stop here"):
        artifact.pack(model_dir, tmp_path / "c.tar.gz", progress=stop)
    assert sorted(os.listdir(tmp_path)) == ["model"]
    r = artifact.pack(model_dir, tmp_path / "ok.tar.gz")
    with pytest.raises(KeyError):
        artifact.digest(r.path, progress=stop)
    with pytest.raises(KeyError):
        artifact.extract(r.path, tmp_path / "x", progress=stop)
    assert not (tmp_path / "x").exists()


def test_gil_is_released_while_hashing(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * 96)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)
    th = threading.Thread(target=ticker)
    th.start()
    try:
        t0 = time.monotonic()
        artifact.digest(big)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        th.join()
    # the ticker ran during the hash (about once per ms of the ~0.1+ s it took)
    assert len(ticks) > elapsed * 100


def test_bad_arguments(model_dir, tmp_path):
    with pytest.raises(ValueError, match="compresslevel"):
        artifact.pack(model_dir, tmp_path / "x.tar.gz", compresslevel=12)
    with pytest.raises(ValueError, match="threads"):
        artifact.pack(model_dir, tmp_path / "x.tar.gz", threads=0)
    with pytest.raises(ValueError):
        artifact.digest(model_dir / "model.pth", "md5")
    with pytest.raises(TypeError):
        artifact.pack(model_dir, tmp_path / "x.tar.gz", progress=3)
