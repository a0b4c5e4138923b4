#!/usr/bin/env python3
"""Writes examples/model/model.pt: a tiny TorchScript archive made with the
Python standard library only (zipfile, pickle, struct), so the example model
is reviewable and needs neither PyTorch nor a download.

The layout is what torch.jit.save writes for a one-layer module
(TinyNet: y = x @ weight.T + bias, 4 inputs, 2 outputs):

    archive/data.pkl                 the module object; tensors refer to storages
    archive/code/__torch__.py        the module's TorchScript code
    archive/constants.pkl            the constants table (empty)
    archive/data/0, archive/data/1   raw little-endian float32 storages
    archive/version, archive/byteorder

Entries are stored (not deflated) with fixed timestamps: the output is the
same byte for byte on every run. It is a structurally faithful example, not a
trained model; smneo.local "compiles" it by copying, the real service would
compile it like any TorchScript export.

    python3 examples/make_model.py [OUTPUT]   (default: examples/model/model.pt)
"""
import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile

FIXED_TIME = (1980, 1, 1, 0, 0, 0)

CODE = '''class TinyNet(Module):
  __parameters__ = ["weight", "bias", ]
  __buffers__ = []
  weight : Tensor
  bias : Tensor
  training : bool
  def forward(self: __torch__.TinyNet,
    input: Tensor) -> Tensor:
    weight = self.weight
    bias = self.bias
    return torch.linear(input, weight, bias)
'''


def _fake_modules():
    """Stand-ins named like torch's globals, so pickle writes the same
    GLOBAL opcodes torch does (__torch__.TinyNet, torch._utils._rebuild_tensor_v2,
    torch.FloatStorage). They exist only while this script runs."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    scripted = types.ModuleType("__torch__")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
        raise RuntimeError("stand-in only")

    class TinyNet:
        pass

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    TinyNet.__module__, TinyNet.__qualname__ = "__torch__", "TinyNet"
    torch.FloatStorage = FloatStorage
    torch._utils = utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    scripted.TinyNet = TinyNet
    sys.modules.update({"torch": torch, "torch._utils": utils, "__torch__": scripted})
    return torch, utils, scripted


class _Storage:
    def __init__(self, key, values):
        self.key = key
        self.values = values


class _Tensor:
    def __init__(self, storage, size):
        self.storage = storage
        self.size = size

    def __reduce_ex__(self, protocol):
        stride = tuple(int(s) for s in _strides(self.size))
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return (rebuild, (self.storage, 0, self.size, stride, False, collections.OrderedDict()))


def _strides(size):
    out, step = [], 1
    for dim in reversed(size):
        out.insert(0, step)
        step *= dim
    return out


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", sys.modules["torch"].FloatStorage, obj.key, "cpu", len(obj.values))
        return None


def build():
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils", "__torch__")}
    try:
        _, _, scripted = _fake_modules()
        weight = _Storage("0", [0.5, -0.25, 0.125, 1.0, -0.5, 0.75, 0.25, -1.0])
        bias = _Storage("1", [0.1, -0.1])
        module = scripted.TinyNet.__new__(scripted.TinyNet)
        module.__dict__.update({"training": False,
                                "weight": _Tensor(weight, (2, 4)),
                                "bias": _Tensor(bias, (2,))})
        buf = io.BytesIO()
        _Pickler(buf, protocol=2).dump(module)
        data_pkl = buf.getvalue()
        constants_pkl = pickle.dumps((), protocol=2)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v

    entries = [
        ("archive/data.pkl", data_pkl),
        ("archive/code/__torch__.py", CODE.encode()),
        ("archive/constants.pkl", constants_pkl),
        ("archive/data/0", struct.pack("<8f", *weight.values)),
        ("archive/data/1", struct.pack("<2f", *bias.values)),
        ("archive/version", b"3\n"),
        ("archive/byteorder", b"little"),
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return out.getvalue()


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    dest = argv[1] if len(argv) > 1 else os.path.join(here, "model", "model.pt")
    data = build()
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    tmp = dest + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)
    print("%s (%d bytes)" % (dest, len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
