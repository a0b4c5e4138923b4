"""Runs smneo.local (python/smneo/local, standard library only) for the Lua
specs without importing the smneo package itself, whose C extension may be
absent or built for another interpreter. Prints this process's pid, then
smneo.local prints its URL; arguments go to smneo.local."""
import os
import runpy
import sys
import types

here = os.path.dirname(os.path.abspath(__file__))
pkg = types.ModuleType("smneo")
pkg.__path__ = [os.path.normpath(os.path.join(here, "..", "..", "..", "python", "smneo"))]
sys.modules["smneo"] = pkg
print(os.getpid(), flush=True)
runpy.run_module("smneo.local", run_name="__main__", alter_sys=True)
